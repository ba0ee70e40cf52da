import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AliasChallenges } from '../../../src/dns/proof/alias-challenges.js';

const grant = { qname: 'www.hosta.gwa.demo', qtype: 1, resolver: '100.64.0.100' };

test('an alias is redeemed once, within its window, and only by its exact name', () => {
  const a = new AliasChallenges({ zone: 'cname.gwa.demo', windowMs: 2000, maxPending: 10 });
  const alias = a.issue(grant, 0)! + '.cname.gwa.demo';
  assert.match(alias, /^[a-z2-7]{8}\.cname\.gwa\.demo$/);
  assert.ok(a.isAlias(alias));
  assert.equal(a.redeem('x' + alias, 1), undefined);
  assert.deepEqual(a.redeem(alias, 1999), { ...grant, issuedAt: 0 });
  assert.equal(a.redeem(alias, 1999), undefined, 'one use only');
  const late = a.issue(grant, 3000)! + '.cname.gwa.demo';
  assert.equal(a.redeem(late, 5000), undefined, 'expired at the end of its window');
  assert.equal(a.size, 0);
});

test('a full table issues nothing until aliases expire or are used', () => {
  const a = new AliasChallenges({ zone: 'z.demo', windowMs: 1000, maxPending: 3 });
  const issued = [a.issue(grant, 0), a.issue(grant, 10), a.issue(grant, 20)].map((l) => l && l + '.z.demo');
  assert.ok(issued.every(Boolean));
  assert.equal(a.issue(grant, 30), undefined);
  assert.ok(a.redeem(issued[1]!, 40));
  assert.ok(a.issue(grant, 50));
  assert.equal(a.issue(grant, 60), undefined);
  assert.ok(a.issue(grant, 1000), 'the first alias expired at 1000');
});

test('property: memory stays within maxPending under any issue/redeem stream', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(50), fc.nat(5))), (ops) => {
      const a = new AliasChallenges({ zone: 'z.demo', windowMs: 100, maxPending: 8 });
      const names: string[] = [];
      let now = 0;
      for (const [issue, dt, pick] of ops) {
        now += dt;
        if (issue) {
          const n = a.issue(grant, now);
          if (n) names.push(n + '.z.demo');
        } else if (names.length) a.redeem(names[pick % names.length]!, now);
        assert.ok(a.size <= 8);
      }
    }),
  );
});
