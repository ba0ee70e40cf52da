// The PBRA facade the query handler calls: who the parties are, what is admitted, who is credited or blamed,
// how groups merge, what is remembered (bounded) and what the /reputation view shows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pbra, requesterLabel, type Party } from '../../src/pbra/pbra.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { group, PERIOD, settings } from './support.js';

const T0 = 1_000_000;
const ecs = (a: string, sourcePrefix: number) => ({ address: parseIpv4(a), sourcePrefix });
const groupOf = (p: Pbra, a: string) => p.book.groupOf(parseIpv4(a), T0);
const scoreOf = (p: Pbra, a: string) => groupOf(p, a)!.standing.score;
const reqScore = (p: Pbra, party: Party) => p.book.requesterByKey(party.requester, T0)!.standing.score;

const demo = () =>
  new Pbra(
    settings({
      groups: [group('good', ['198.51.100.53'], true, 1), group('bad', ['198.51.100.54'], true, 0), group('farm', ['203.0.113.0/29'], false, 1)],
    }),
    T0,
  );

describe('Pbra.identify', () => {
  it('an sla group names its client by EDNS Client Subnet, cut to /24, and the reservation may be bound to it', () => {
    const p = demo();
    const party = p.identify({ resolver: '198.51.100.53', ecs: ecs('10.1.2.3', 32), proven: true }, T0);
    assert.deepEqual(party, { resolver: parseIpv4('198.51.100.53'), requester: parseIpv4('10.1.2.0') * 64 + 24, sla: true, bindTo: { network: parseIpv4('10.1.2.0'), prefixLength: 24 } });
    assert.equal(requesterLabel(p.identify({ resolver: '198.51.100.53', ecs: ecs('10.1.0.0', 16), proven: true }, T0)), '10.1.0.0/16');
    assert.equal(requesterLabel(p.identify({ resolver: '198.51.100.53', ecs: ecs('0.0.0.0', 0), proven: true }, T0)), '198.51.100.53/32', 'source prefix 0: not located');
  });

  it('without sla the client subnet is not believed: the requester is the resolver', () => {
    const p = demo();
    const farm = p.identify({ resolver: parseIpv4('203.0.113.5'), ecs: ecs('10.1.2.3', 24), proven: true }, T0);
    assert.equal(requesterLabel(farm), '203.0.113.5/32');
    assert.equal(farm.bindTo, undefined);
    assert.equal(groupOf(p, '203.0.113.5')!.name, 'farm', 'a configured block');
    const stranger = p.identify({ resolver: '192.0.2.77', proven: true }, T0);
    assert.equal(groupOf(p, '192.0.2.77')!.name, 'resolver-192.0.2.77');
    assert.equal(stranger.sla, false);
    assert.equal(p.identify({ resolver: '::ffff:192.0.2.77', proven: true }, T0).resolver, parseIpv4('192.0.2.77'), 'IPv4-mapped form');
  });
});

describe('Pbra.admit', () => {
  const ask = (p: Pbra, party: Party, loadPercent: number, kind: 'fqdn_new' | 'sfqdn_new' | 'sfqdn_reuse' = 'fqdn_new', requesterHeld = 0) =>
    p.admit({ party, kind, loadPercent, requesterHeld, poolSize: 10 }, T0);

  it("follows the demo tiers: the good group's clients pass at half load, strangers only for service names", () => {
    const p = demo();
    const good = p.identify({ resolver: '198.51.100.53', ecs: ecs('10.1.2.3', 24), proven: true }, T0);
    const bad = p.identify({ resolver: '198.51.100.54', ecs: ecs('10.9.9.9', 24), proven: true }, T0);
    const stranger = p.identify({ resolver: '192.0.2.77', proven: true }, T0);
    assert.deepEqual(ask(p, good, 50), { ok: true });
    assert.deepEqual(ask(p, stranger, 50), { ok: false, reason: 'tier' });
    assert.deepEqual(ask(p, stranger, 50, 'sfqdn_new'), { ok: true });
    assert.deepEqual(ask(p, bad, 50), { ok: false, reason: 'tier' }, 'max(0, 0.45) < 0.75');
    assert.deepEqual(ask(p, bad, 20), { ok: true });
    assert.deepEqual(ask(p, good, 100), { ok: false, reason: 'tier' }, 'a fresh client is not the best party: min row');
  });

  it('refuses a requester at its budget (half the pool by default)', () => {
    const p = demo();
    const party = p.identify({ resolver: '198.51.100.53', proven: true }, T0);
    assert.deepEqual(ask(p, party, 0, 'fqdn_new', 4), { ok: true });
    assert.deepEqual(ask(p, party, 0, 'fqdn_new', 5), { ok: false, reason: 'budget' });
  });

  it('reputation earned and lost moves the decision', () => {
    const p = new Pbra(settings(), T0);
    const a = p.identify({ resolver: '192.0.2.1', proven: true }, T0);
    const b = p.identify({ resolver: '192.0.2.2', proven: true }, T0);
    assert.deepEqual(ask(p, a, 100), { ok: true }, 'equals, both the best');
    for (let i = 0; i < 5; i++) p.used(a, T0);
    assert.deepEqual(ask(p, a, 100), { ok: true });
    // a: 0.25 * 0.45 + 0.75 * (0.45 + 0.5 * 5/10) = 0.6375, the best; b: 0.45 / 0.6375 = 0.71 normalised.
    assert.deepEqual(ask(p, b, 80, 'sfqdn_new'), { ok: true });
    assert.deepEqual(ask(p, b, 80, 'fqdn_new'), { ok: false, reason: 'tier' }, 'b is now below the best');
    for (let i = 0; i < 3; i++) p.expired(b, T0);
    assert.deepEqual(ask(p, b, 50, 'sfqdn_new'), { ok: false, reason: 'tier' });
    assert.deepEqual(ask(p, b, 10, 'sfqdn_reuse'), { ok: true });
  });
});

describe('Pbra outcomes', () => {
  it('used: ok for the group and the requester', () => {
    const p = demo();
    const party = p.identify({ resolver: '192.0.2.1', proven: true }, T0);
    p.used(party, T0);
    assert.equal(groupOf(p, '192.0.2.1')!.standing.current.ok, 1);
    assert.equal(p.book.requesterByKey(party.requester, T0)!.standing.current.ok, 1);
  });

  it('expired, client named by an sla group: only the client is blamed', () => {
    const p = demo();
    const party = p.identify({ resolver: '198.51.100.53', ecs: ecs('10.1.2.3', 24), proven: true }, T0);
    p.expired(party, T0);
    assert.equal(groupOf(p, '198.51.100.53')!.standing.current.nok, 0);
    assert.equal(p.book.requesterByKey(party.requester, T0)!.standing.current.nok, 1);
    assert.ok(reqScore(p, party) < 0.45);
  });

  it('expired, no client named: the group and the resolver are blamed', () => {
    const p = demo();
    const party = p.identify({ resolver: '203.0.113.1', proven: true }, T0);
    p.expired(party, T0);
    assert.equal(groupOf(p, '203.0.113.1')!.standing.current.nok, 1);
    assert.equal(p.book.requesterByKey(party.requester, T0)!.standing.current.nok, 1);
  });

  it('outcomes of forgotten parties are dropped, not brought back', () => {
    const p = new Pbra(settings({ maxTrackedResolvers: 4, maxTrackedRequesters: 4 }), T0);
    const first = p.identify({ resolver: '192.0.2.1', proven: true }, T0);
    for (let i = 2; i < 10; i++) p.identify({ resolver: `192.0.2.${i}`, proven: true }, T0);
    p.used(first, T0);
    assert.equal(groupOf(p, '192.0.2.1'), undefined);
    assert.equal(p.book.requesterByKey(first.requester, T0), undefined);
  });
});

describe('Pbra trusted / untrusted', () => {
  it('untrusted queries from unknown resolvers create nothing unless logUntrusted; then a probationary group', () => {
    const p = new Pbra(settings(), T0);
    p.untrusted('192.0.2.1', T0);
    assert.equal(groupOf(p, '192.0.2.1'), undefined);
    const q = new Pbra(settings({ logUntrusted: true }), T0);
    q.untrusted('192.0.2.1', T0);
    assert.equal(groupOf(q, '192.0.2.1')!.standing.current.untrusted, 1);
    assert.deepEqual(q.book.sizes().resolverAddresses, { proven: 0, probation: 1 });
    q.trusted('192.0.2.1', T0);
    assert.deepEqual(q.book.sizes().resolverAddresses, { proven: 1, probation: 0 }, 'a proven query promotes it');
  });

  it('untrusted queries are counted on known groups', () => {
    const p = demo();
    p.untrusted('198.51.100.54', T0);
    p.trusted('198.51.100.54', T0);
    assert.deepEqual([groupOf(p, '198.51.100.54')!.standing.current.untrusted, groupOf(p, '198.51.100.54')!.standing.current.trusted], [1, 1]);
  });
});

describe('Pbra.followUp: resolver farms', () => {
  it('a proven follow-up from another unknown resolver merges the two groups, events included', () => {
    const p = new Pbra(settings(), T0);
    const a = p.identify({ resolver: '192.0.2.1', proven: true }, T0);
    p.used(a, T0);
    const b = p.identify({ resolver: '192.0.2.2', proven: true }, T0);
    p.expired(b, T0);
    p.followUp({ issuedTo: '192.0.2.1', from: '192.0.2.2', fromProven: true }, T0);
    const g = groupOf(p, '192.0.2.2')!;
    assert.equal(g, groupOf(p, '192.0.2.1'));
    assert.equal(g.name, 'resolver-192.0.2.1', 'equal sizes: the group the alias was sent to survives');
    assert.deepEqual([g.standing.current.ok, g.standing.current.nok], [1, 1]);
    assert.equal(p.book.sizes().unknownGroups, 1);
    p.followUp({ issuedTo: '192.0.2.3', from: '192.0.2.2', fromProven: true }, T0);
    assert.equal(groupOf(p, '192.0.2.3')!.name, 'resolver-192.0.2.1', 'the larger group survives');
  });

  it('a configured group absorbs an unknown one; two configured groups never merge', () => {
    const p = demo();
    p.followUp({ issuedTo: '192.0.2.9', from: '198.51.100.53', fromProven: true }, T0);
    assert.equal(groupOf(p, '192.0.2.9')!.name, 'good');
    assert.deepEqual(p.view(T0).groups.find((g) => g.name === 'good')!.members, ['198.51.100.53', '192.0.2.9']);
    p.followUp({ issuedTo: '198.51.100.53', from: '198.51.100.54', fromProven: true }, T0);
    assert.equal(groupOf(p, '198.51.100.54')!.name, 'bad');
  });

  it('an unproven (UDP) follow-up proves the first resolver but merges nothing', () => {
    const p = demo();
    p.followUp({ issuedTo: '192.0.2.9', from: '198.51.100.53', fromProven: false }, T0);
    assert.equal(groupOf(p, '192.0.2.9')!.name, 'resolver-192.0.2.9');
    assert.equal(p.view(T0).groups.find((g) => g.name === 'good')!.membersTotal, 1);
  });
});

describe('Pbra periods', () => {
  it('every party ages at each period change; idle periods are caught up', () => {
    const p = demo();
    p.identify({ resolver: '192.0.2.1', proven: true }, T0);
    p.used(p.identify({ resolver: '192.0.2.1', proven: true }, T0), T0);
    const before = scoreOf(p, '198.51.100.53');
    assert.equal(before, 1);
    p.book.tick(T0 + PERIOD - 1);
    assert.equal(p.book.period, 0);
    p.book.tick(T0 + PERIOD);
    assert.equal(p.book.period, 1);
    const g = p.book.groupOf(parseIpv4('198.51.100.53'), T0 + PERIOD)!;
    assert.ok(Math.abs(g.standing.score - (0.25 * 1 + 0.75 * (1 - 0.55 / 3))) < 1e-12);
    const u = p.book.groupOf(parseIpv4('192.0.2.1'), T0 + PERIOD)!;
    assert.equal(u.standing.previous.ok, 1);
    assert.equal(u.standing.current.ok, 0);
    p.book.tick(T0 + 1000 * PERIOD);
    assert.ok(Math.abs(g.standing.score - 0.45) < 1e-9, 'long idle: back to the middle');
  });
});

describe('Pbra.view', () => {
  it('lists every group and the busiest requesters as JSON-able rows', () => {
    const p = demo();
    const a = p.identify({ resolver: '198.51.100.53', ecs: ecs('10.1.2.3', 24), proven: true }, T0);
    const b = p.identify({ resolver: '192.0.2.7', proven: true }, T0 + 5);
    p.used(a, T0 + 10);
    p.used(a, T0 + 10);
    p.expired(b, T0 + 10);
    const v = p.view(T0 + 20, { requesters: 1 });
    assert.deepEqual(JSON.parse(JSON.stringify(v)), v);
    assert.deepEqual(v.groups.map((g) => [g.name, g.configured, g.sla, g.members]), [
      ['good', true, true, ['198.51.100.53']],
      ['bad', true, true, ['198.51.100.54']],
      ['farm', true, false, ['203.0.113.0/29']],
      ['resolver-192.0.2.7', false, false, ['192.0.2.7']],
    ]);
    const good = v.groups[0];
    assert.deepEqual(good.current, { score: 1, initial: 1, ok: 2, nok: 0, neutral: 0, trusted: 0, untrusted: 0 });
    assert.equal(good.reputation, 1);
    assert.deepEqual(v.requesters.map((r) => [r.requester, r.current.ok, r.lastSeenMsAgo]), [['10.1.2.0/24', 2, 20]], 'seen when identified');
    assert.equal(v.best, 1);
    assert.equal(v.period, 0);
    assert.deepEqual(v.tracked, { configuredGroups: 3, unknownGroups: 1, resolverAddresses: { proven: 1, probation: 0 }, requesters: { proven: 2, probation: 0 } });
  });
});
