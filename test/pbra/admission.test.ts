// The admission formula of src/pbra/admission.ts on the demo tiers: rows chosen by load, reputations normalised
// against the best, combined by the row's math, compared with the kind's threshold; the per-requester budget.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetLimit, decide, passesTiers, requestKind } from '../../src/pbra/admission.js';
import { RequesterHoldings } from '../../src/pbra/holdings.js';
import { DEMO_TIERS, type RequestKind } from '../../src/pbra/model.js';

const pass = (kind: RequestKind, loadPercent: number, groupReputation: number, requesterReputation: number, best = 1) =>
  passesTiers(DEMO_TIERS, { kind, loadPercent, groupReputation, requesterReputation, best });

describe('budgetLimit', () => {
  it('is a share of the pool, at least 1, at most max', () => {
    assert.equal(budgetLimit({ share: 0.5 }, 3), 1);
    assert.equal(budgetLimit({ share: 0.5 }, 10), 5);
    assert.equal(budgetLimit({ share: 0 }, 100), 1);
    assert.equal(budgetLimit({ share: 0.5, max: 2 }, 100), 2);
    assert.equal(budgetLimit({ share: 1 }, 0), 1);
  });
});

describe('passesTiers (demo rows)', () => {
  it('low load (0..33, max): a fresh party (0.45) gets everything', () => {
    for (const kind of ['fqdn_new', 'sfqdn_new', 'sfqdn_reuse'] as const) assert.ok(pass(kind, 10, 0.45, 0.45), kind);
    assert.ok(!pass('fqdn_new', 10, 0.1, 0.19));
  });

  it('33..66 (max): a host name needs 0.75 from either party; 0.45 exactly meets sfqdn_new', () => {
    assert.ok(!pass('fqdn_new', 50, 0.45, 0.45));
    assert.ok(pass('fqdn_new', 50, 1, 0.45), 'a configured 1.0 group carries its clients');
    assert.ok(pass('sfqdn_new', 50, 0.25 * 0.45 + 0.75 * 0.45, 0.1), 'tolerance for 0.45 computed in floating point');
  });

  it('66..99 (avg) and 99..100 (min); at 99 both rows apply', () => {
    assert.ok(!pass('fqdn_new', 80, 1, 0.45));
    assert.ok(pass('sfqdn_new', 80, 1, 0.45)); // (1 + 0.45) / 2 = 0.725
    assert.ok(!pass('sfqdn_new', 100, 1, 0.45)); // min = 0.45 < 0.85
    assert.ok(pass('fqdn_new', 100, 1, 1));
    assert.ok(pass('sfqdn_reuse', 99, 1, 0.2), 'at 99 the avg row (0.6 >= 0.55) admits what the min row refuses');
    assert.ok(!pass('sfqdn_reuse', 99.5, 1, 0.2));
    assert.ok(pass('fqdn_new', 150, 1, 1) && !pass('sfqdn_new', 150, 1, 0.45), 'load above 100 counts as 100');
  });

  it('normalises against the best reputation known', () => {
    assert.ok(pass('fqdn_new', 100, 0.45, 0.45, 0.45), 'when nobody is better, fresh parties are the best');
    assert.ok(!pass('fqdn_new', 100, 0.45, 0.45, 0.9));
    assert.ok(pass('sfqdn_new', 80, 0.6, 0.6, 0.9)); // 0.667 >= 0.65
    assert.ok(pass('fqdn_new', 100, 0.7, 0.7, 0.5), 'best is never below the parties themselves');
    assert.ok(!pass('sfqdn_reuse', 10, 0, 0, 0), 'best 0: everybody counts 0');
  });
});

describe('decide', () => {
  const q = { kind: 'fqdn_new' as const, loadPercent: 10, groupReputation: 1, requesterReputation: 1, best: 1, poolSize: 4 };
  it('refuses a requester at its budget whatever its reputation, then applies the tiers', () => {
    assert.deepEqual(decide(DEMO_TIERS, { share: 0.5 }, { ...q, requesterHeld: 1 }), { ok: true });
    assert.deepEqual(decide(DEMO_TIERS, { share: 0.5 }, { ...q, requesterHeld: 2 }), { ok: false, reason: 'budget' });
    assert.deepEqual(decide(DEMO_TIERS, { share: 0.5 }, { ...q, requesterHeld: 0, loadPercent: 50, groupReputation: 0.3, requesterReputation: 0.3 }), { ok: false, reason: 'tier' });
  });
});

describe('requestKind', () => {
  it("follows Realm Gateway: host names, full service names (reuse when overloading), partial ones always new", () => {
    assert.equal(requestKind({ protocol: 0, port: 0 }, true), 'fqdn_new');
    assert.equal(requestKind({ protocol: 6, port: 22 }, false), 'sfqdn_new');
    assert.equal(requestKind({ protocol: 6, port: 22 }, true), 'sfqdn_reuse');
    assert.equal(requestKind({ protocol: 1, port: 0 }, true), 'sfqdn_new');
  });
});

describe('RequesterHoldings', () => {
  it('counts live reservations per requester and forgets a requester holding none', () => {
    const h = new RequesterHoldings();
    const a = { requester: 1 };
    const b = { requester: 2 };
    h.add(a);
    h.add(a);
    h.add(b);
    assert.deepEqual([h.held(a), h.held(b), h.size], [2, 1, 2]);
    h.remove(b);
    h.remove(b); // a second end of the same reservation must not go negative
    h.remove(a);
    assert.deepEqual([h.held(a), h.held(b), h.size], [1, 0, 1]);
  });
});
