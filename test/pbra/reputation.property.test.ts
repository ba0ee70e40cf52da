/**
 * Properties of the reputation book under random and spoofed event streams: memory stays within its bounds,
 * configured groups are never forgotten, unproven sources never push out proven resolvers, the book's own
 * structure stays consistent; and scores are monotonic within a period (more ok never lowers one, more nok
 * never raises one), through the formula and through the whole facade.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { passesTiers } from '../../src/pbra/admission.js';
import { DEMO_TIERS, type RequestKind } from '../../src/pbra/model.js';
import { Pbra, type Party } from '../../src/pbra/pbra.js';
import { Standing, type Event } from '../../src/pbra/score.js';
import { formatIpv4, parseIpv4 } from '../../src/util/ipv4.js';
import { group, PERIOD, settings } from './support.js';

const T0 = 5_000;
const CONFIGURED = ['198.51.100.53', '203.0.113.0/30'];
const CONFIGURED_ADDRS = ['198.51.100.53', '203.0.113.0', '203.0.113.3'].map(parseIpv4);
let MAX_RESOLVERS = 8;
let MAX_REQUESTERS = 6;

/** Addresses: configured ones, a few that recur, and the whole space (what a spoofer draws from). */
const address = fc.oneof(
  fc.constantFrom(...CONFIGURED_ADDRS),
  fc.integer({ min: 0, max: 15 }).map((i) => parseIpv4('192.0.2.0') + i),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const ecs = fc.option(fc.record({ address: fc.integer({ min: 0, max: 0xffffffff }), sourcePrefix: fc.integer({ min: 0, max: 32 }) }), { nil: undefined });
const kind = fc.constantFrom<RequestKind>('fqdn_new', 'sfqdn_new', 'sfqdn_reuse');

type Op =
  | { op: 'identify'; resolver: number; ecs?: { address: number; sourcePrefix: number }; proven: boolean }
  | { op: 'trusted' | 'untrusted'; resolver: number }
  | { op: 'followUp'; issuedTo: number; from: number; fromProven: boolean }
  | { op: 'outcome'; pick: number; what: 'used' | 'expired' | 'neutral' }
  | { op: 'admit'; pick: number; kind: RequestKind; load: number; held: number }
  | { op: 'time'; dt: number };

const anyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('identify' as const), resolver: address, ecs, proven: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('trusted' as const, 'untrusted' as const), resolver: address }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('followUp' as const), issuedTo: address, from: address, fromProven: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('outcome' as const), pick: fc.nat(), what: fc.constantFrom('used' as const, 'expired' as const, 'neutral' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('admit' as const), pick: fc.nat(), kind, load: fc.double({ min: 0, max: 120, noNaN: true }), held: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('time' as const), dt: fc.oneof(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 3 * PERIOD })) }) },
);

function fresh(logUntrusted: boolean): Pbra {
  return new Pbra(
    settings({ groups: [group('one', [CONFIGURED[0]], true, 1), group('block', [CONFIGURED[1]], false, 0.2)], maxTrackedResolvers: MAX_RESOLVERS, maxTrackedRequesters: MAX_REQUESTERS, logUntrusted }),
    T0,
  );
}

/** Applies one op; parties identified so far are kept for outcomes (as the query handler keeps them with reservations). */
function apply(p: Pbra, op: Op, parties: Party[], clock: { now: number }): void {
  const now = clock.now;
  switch (op.op) {
    case 'identify':
      parties.push(p.identify(op, now));
      return;
    case 'trusted':
      return p.trusted(op.resolver, now);
    case 'untrusted':
      return p.untrusted(op.resolver, now);
    case 'followUp':
      return p.followUp(op, now);
    case 'outcome': {
      const party = parties[op.pick % Math.max(1, parties.length)];
      if (party) p[op.what](party, now);
      return;
    }
    case 'admit': {
      const party = parties[op.pick % Math.max(1, parties.length)];
      if (!party) return;
      const r = p.admit({ party, kind: op.kind, loadPercent: op.load, requesterHeld: op.held, poolSize: 4 }, now);
      assert.ok(r.ok || r.reason === 'tier' || r.reason === 'budget');
      return;
    }
    case 'time':
      clock.now += op.dt;
      return;
  }
}

/** The book's structure, checked from the outside (groups, members, sizes), not with the code under test. */
function checkInvariants(p: Pbra, now: number): void {
  const sizes = p.book.sizes();
  const provenCap = MAX_RESOLVERS - Math.max(1, Math.floor(MAX_RESOLVERS / 4));
  assert.ok(sizes.resolverAddresses.proven <= provenCap, `proven resolvers ${sizes.resolverAddresses.proven}`);
  assert.ok(sizes.resolverAddresses.probation <= MAX_RESOLVERS - provenCap);
  assert.ok(sizes.requesters.proven + sizes.requesters.probation <= MAX_REQUESTERS);
  const groups = p.book.groups();
  assert.deepEqual(groups.filter((g) => g.configured).map((g) => [g.name, g.nodes.length]), [['one', 1], ['block', 1]], 'configured groups are never forgotten');
  const seen = new Set<number>();
  let learned = 0;
  for (const g of groups) {
    if (!g.configured) assert.ok(g.learned.size >= 1, `unknown group ${g.name} without addresses`);
    for (const a of g.learned) {
      assert.ok(!seen.has(a), `${formatIpv4(a)} in two groups`);
      seen.add(a);
      assert.equal(p.book.groupOf(a, now), g, `${formatIpv4(a)} does not lead back to ${g.name}`);
    }
    learned += g.learned.size;
  }
  assert.equal(learned, sizes.resolverAddresses.proven + sizes.resolverAddresses.probation);
  assert.equal(sizes.unknownGroups, groups.length - 2);
  const best = p.book.best(now);
  for (const g of groups) assert.ok(g.standing.score >= 0 && g.standing.score <= 1 && g.standing.score <= best + 1e-12, `${g.name} ${g.standing.score} > best ${best}`);
  for (const r of p.book.allRequesters()) assert.ok(r.standing.score <= best + 1e-12);
}

describe('ReputationBook under random event streams', () => {
  it('stays within its memory bounds and consistent after every event (bounds 8/6 and the smallest, 2/2)', () => {
    for (const [resolvers, requesters] of [[8, 6], [2, 2]]) {
      MAX_RESOLVERS = resolvers;
      MAX_REQUESTERS = requesters;
      fc.assert(
      fc.property(fc.boolean(), fc.array(anyOp, { maxLength: 150, size: 'max' }), (logUntrusted, ops) => {
        const p = fresh(logUntrusted);
        const parties: Party[] = [];
        const clock = { now: T0 };
        for (const op of ops) {
          apply(p, op, parties, clock);
          checkInvariants(p, clock.now);
        }
      }),
      { numRuns: 300 },
      );
    }
    MAX_RESOLVERS = 8;
    MAX_REQUESTERS = 6;
  });

  it('spoofed (unproven) events never push out proven resolvers or configured groups', () => {
    const spoof: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('identify' as const), resolver: address, ecs, proven: fc.constant(false) }),
      fc.record({ op: fc.constant('untrusted' as const), resolver: address }),
      fc.record({ op: fc.constant('outcome' as const), pick: fc.nat(), what: fc.constantFrom('used' as const, 'expired' as const) }),
      fc.record({ op: fc.constant('time' as const), dt: fc.integer({ min: 0, max: 2 * PERIOD }) }),
    );
    const provenCap = MAX_RESOLVERS - Math.max(1, Math.floor(MAX_RESOLVERS / 4));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: provenCap }), fc.array(spoof, { maxLength: 300, size: 'max' }), (provenAddrs, ops) => {
        const legit = provenAddrs.filter((a) => !CONFIGURED_ADDRS.includes(a) && (a >>> 2) !== parseIpv4('203.0.113.0') >>> 2);
        const p = fresh(true);
        const clock = { now: T0 };
        for (const a of legit) p.trusted(a, clock.now);
        const names = legit.map((a) => p.book.groupOf(a, clock.now)!.name);
        const parties: Party[] = [];
        for (const op of ops) {
          apply(p, op, parties, clock);
          // A spoofed follow-up for an alias a proven resolver really got: no merge.
          if (legit.length > 0 && op.op === 'untrusted') p.followUp({ issuedTo: legit[op.resolver % legit.length], from: op.resolver, fromProven: false }, clock.now);
        }
        checkInvariants(p, clock.now);
        assert.deepEqual(legit.map((a) => p.book.groupOf(a, clock.now)?.name), names);
      }),
      { numRuns: 200 },
    );
  });
});

describe('monotonic within a period', () => {
  const event = fc.constantFrom<Event>('ok', 'nok', 'neutral', 'trusted', 'untrusted');
  const history = fc.array(fc.oneof({ weight: 9, arbitrary: event }, { weight: 1, arbitrary: fc.constant('age' as const) }), { maxLength: 80, size: 'max' });

  function replay(initial: number, h: readonly (Event | 'age')[]): Standing {
    const s = new Standing(initial);
    for (const e of h) {
      if (e === 'age') s.age();
      else s.record(e);
    }
    return s;
  }

  it('more ok never lowers a score, more nok never raises it (the formula)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), history, fc.integer({ min: 1, max: 20 }), (initial, h, k) => {
        const base = replay(initial, h).score;
        assert.ok(replay(initial, [...h, ...Array<Event>(k).fill('ok')]).score >= base - 1e-12);
        assert.ok(replay(initial, [...h, ...Array<Event>(k).fill('nok')]).score <= base + 1e-12);
      }),
      { numRuns: 500 },
    );
  });

  it('through the facade: extra used() never lowers a party, extra expired() never raises one', () => {
    fc.assert(
      fc.property(fc.array(anyOp, { maxLength: 80, size: 'max' }), fc.integer({ min: 1, max: 5 }), (ops, k) => {
        const run = (extra: 'used' | 'expired' | undefined) => {
          const p = fresh(false);
          const parties: Party[] = [];
          const clock = { now: T0 };
          for (const op of ops) apply(p, op, parties, clock);
          const party = p.identify({ resolver: parseIpv4('192.0.2.1'), proven: true }, clock.now);
          if (extra) for (let i = 0; i < k; i++) p[extra](party, clock.now);
          return [p.book.groupOf(party.resolver, clock.now)!.standing.score, p.book.requesterByKey(party.requester, clock.now)!.standing.score];
        };
        const [g0, r0] = run(undefined);
        const [g1, r1] = run('used');
        const [g2, r2] = run('expired');
        assert.ok(g1 >= g0 - 1e-12 && r1 >= r0 - 1e-12, 'used');
        assert.ok(g2 <= g0 + 1e-12 && r2 <= r0 + 1e-12, 'expired');
      }),
      { numRuns: 200 },
    );
  });

  it('a better reputation is never refused where a worse one is admitted', () => {
    const rep = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(kind, fc.double({ min: 0, max: 100, noNaN: true }), rep, rep, rep, rep, (k, load, g, r, dg, dr) => {
        const best = 1;
        const worse = passesTiers(DEMO_TIERS, { kind: k, loadPercent: load, groupReputation: g * (1 - dg), requesterReputation: r * (1 - dr), best });
        const better = passesTiers(DEMO_TIERS, { kind: k, loadPercent: load, groupReputation: g, requesterReputation: r, best });
        assert.ok(!worse || better);
      }),
      { numRuns: 500 },
    );
  });
});
