/**
 * Random interleavings of reserve / find / consume / cancel / expire / time steps, run against the real pool
 * and the naive ModelPool side by side. Every result must agree, and after every step the pool's own state
 * must satisfy the invariants (checked by brute force over real packets, not with the code under test).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CircularPool, type ReleaseReason, type Reservation } from '../../src/pool/circular-pool.js';
import type { FlowKey } from '../../src/pool/flow-key.js';
import { KEYS, ModelPool, PORTED, type MRes, UNIVERSE, type UPacket, oracleMatches } from './model.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

const BASE = parseIpv4('198.51.100.0');
const HOSTS = ['h1.gwa.demo', 'h2.gwa.demo', 'h3.gwa.demo'];
const SOURCES = [
  undefined,
  { network: parseIpv4('10.0.0.0'), prefixLength: 8 },
  { network: parseIpv4('10.1.0.0'), prefixLength: 16 },
];
const SRCS = [undefined, parseIpv4('10.1.2.3'), parseIpv4('10.9.9.9'), parseIpv4('192.168.0.1')];
/** Real packets plus ones of portless protocols that carry a bogus port. */
const PACKETS: UPacket[] = [...UNIVERSE, { protocol: 1, port: 80 }, { protocol: 47, port: 22 }];

type Op =
  | { kind: 'reserve'; key: number; host: number; hostMax: number | undefined; lifetime: number | undefined; source: number; loose: number }
  | { kind: 'find' | 'consume'; addr: number; pkt: number; src: number }
  | { kind: 'hit'; pick: number; port: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'expire' }
  | { kind: 'time'; dt: number };

/** Relative weights of the operations a run draws. */
interface Mix {
  reserve: number;
  probe: number;
  hit: number;
  cancel: number;
  expire: number;
  time: number;
}

const MIXED: Mix = { reserve: 6, probe: 4, hit: 3, cancel: 1, expire: 1, time: 3 };
/** Reserve and release in quick succession, time nearly still: reaches crowded addresses fast. */
const CHURN: Mix = { reserve: 6, probe: 1, hit: 4, cancel: 2, expire: 0, time: 1 };

function opsFrom(mix: Mix): fc.Arbitrary<Op> {
  return fc.oneof(
    {
      weight: mix.reserve,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        key: fc.nat({ max: KEYS.length - 1 }),
        host: fc.nat({ max: HOSTS.length - 1 }),
        hostMax: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined, freq: 3 }),
        lifetime: fc.constantFrom(undefined, undefined, 50, 120),
        source: fc.constantFrom(0, 0, 0, 1, 2),
        loose: fc.constantFrom(0, 0, 0, 1, 2, -1),
      }),
    },
    {
      weight: mix.probe,
      arbitrary: fc.record({
        kind: fc.constantFrom('find' as const, 'consume' as const, 'consume' as const),
        addr: fc.nat({ max: 80 }),
        pkt: fc.nat({ max: PACKETS.length - 1 }),
        src: fc.nat({ max: SRCS.length - 1 }),
      }),
    },
    {
      weight: mix.hit,
      arbitrary: fc.record({ kind: fc.constant('hit' as const), pick: fc.nat(), port: fc.constantFrom(22, 80, 9999) }),
    },
    { weight: mix.cancel, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: mix.expire, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
    {
      weight: mix.time,
      arbitrary: fc.record({
        kind: fc.constant('time' as const),
        dt: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 10 }) }, fc.integer({ min: -20, max: 150 })),
      }),
    },
  );
}

interface Setup {
  n: number;
  /** The keys this run draws from: a few at a time make the same interactions recur. */
  keys: FlowKey[];
  lifetimeMs: number;
  maxTrackedKeys: number | undefined;
}

function ids(list: readonly { id: number }[]): number[] {
  return list.map((r) => r.id).sort((a, b) => a - b);
}

function run(setup: Setup, ops: Op[]): void {
  const addresses = Array.from({ length: setup.n }, (_, i) => BASE + i);
  const releases = new Map<number, ReleaseReason[]>();
  const pool = new CircularPool({
    addresses,
    lifetimeMs: setup.lifetimeMs,
    maxTrackedKeys: setup.maxTrackedKeys,
    onRelease: (r, why) => releases.set(r.id, [...(releases.get(r.id) ?? []), why]),
  });
  const model = new ModelPool(addresses, setup.lifetimeMs);
  const issued: number[] = [];
  const returnedByExpire = new Set<number>();
  let now = 0;
  const same = (real: Reservation | undefined, ref: MRes | undefined, what: string) =>
    assert.equal(real?.id, ref?.id, `${what}: pool and model disagree`);

  for (const op of ops) {
    switch (op.kind) {
      case 'reserve': {
        const key = setup.keys[op.key % setup.keys.length];
        const hostId = HOSTS[op.host];
        const source = SOURCES[op.source];
        const { hostMax, lifetime } = op;
        const real = pool.reserve({ key, hostId, target: 1, service: `svc.${hostId}`, hostMax, lifetimeMs: lifetime, source, loosePacket: op.loose }, now);
        const ref = model.reserve(key, hostId, hostMax, lifetime, source, now, op.loose);
        if (real.ok && ref.ok) {
          const { id, address, expiresAt } = real.reservation;
          assert.deepEqual([id, address, expiresAt], [ref.r.id, ref.r.address, ref.r.expiresAt]);
          issued.push(real.reservation.id);
        } else {
          assert.deepEqual(real, ref.ok ? { ok: true } : ref, 'reserve: pool and model disagree');
        }
        break;
      }
      case 'find':
      case 'consume': {
        const dst = BASE + (op.addr % (setup.n + 1)); // one address past the pool's end too
        const pkt = PACKETS[op.pkt];
        const src = SRCS[op.src];
        const real = pool[op.kind]({ dst, protocol: pkt.protocol, port: pkt.port, src }, now);
        same(real, model[op.kind](dst, pkt, src, now), op.kind);
        if (real !== undefined) {
          assert.ok(real.expiresAt > Math.max(now, model.clock), `${op.kind} returned an expired reservation`);
        }
        break;
      }
      case 'hit': {
        // The first packet of the flow a live reservation was made for (what real clients send).
        const held = pool.live();
        if (held.length === 0) break;
        const target = held[op.pick % held.length];
        const protocol = target.key.protocol || 6;
        const pkt = { protocol, port: PORTED.has(protocol) ? target.key.port || op.port : 0 };
        // a used loose reservation is hit by its first source again, or by another one (which it refuses)
        const loose = pool.looseState(target.id);
        const src = loose !== undefined ? (op.pick % 3 === 0 ? loose.usedBy + 1 : loose.usedBy) : target.source === undefined ? SRCS[op.pick % SRCS.length] : target.source.network + 1;
        const real = pool.consume({ dst: target.address, ...pkt, src }, now);
        same(real, model.consume(target.address, pkt, src, now), 'consume');
        if (real !== undefined) assert.ok(real.expiresAt > Math.max(now, model.clock), 'consume returned an expired reservation');
        break;
      }
      case 'cancel': {
        const id = issued.length === 0 ? 1 : issued[op.pick % issued.length];
        assert.equal(pool.cancel(id, now), model.cancel(id, now));
        break;
      }
      case 'expire': {
        const expired = pool.expire(now);
        assert.deepEqual(ids(expired), ids(model.expire(now)));
        for (const r of expired) {
          assert.ok(!returnedByExpire.has(r.id), `expire() returned ${r.id} twice`);
          returnedByExpire.add(r.id);
          assert.deepEqual(releases.get(r.id), ['expired'], `expire() returned ${r.id} without reporting it as expired`);
        }
        break;
      }
      case 'time':
        now += op.dt; // may step back: both clocks must hold still
        break;
    }
    checkInvariants(pool, model, addresses, releases, issued);
  }
}

function checkInvariants(
  pool: CircularPool,
  model: ModelPool,
  addresses: number[],
  releases: Map<number, ReleaseReason[]>,
  issued: number[],
): void {
  const live = pool.live();
  assert.deepEqual(ids(live), ids(model.live), 'live sets differ');
  for (const r of live) assert.ok(r.expiresAt > model.clock, `reservation ${r.id} held after expiry`);
  // THE invariant: no real packet to any address matches two live reservations (keys only, sources ignored).
  for (const address of addresses) {
    const here = pool.live(address);
    for (const pkt of UNIVERSE) {
      const matching = here.filter((r) => oracleMatches(r.key, pkt));
      assert.ok(matching.length <= 1, `packet ${JSON.stringify(pkt)} to ${address} matches ids ${ids(matching)}`);
    }
  }
  // Where each key would go next: checks every key's conflict bitset, not only the ones reserve() happened to use.
  for (const key of KEYS) {
    assert.equal(pool.nextAddressFor(key), model.nextAddressFor(key), `next address for ${JSON.stringify(key)}`);
  }
  // Every reservation leaves exactly once, with one reason; held ones have not left.
  const liveIds = new Set(live.map((r) => r.id));
  for (const id of issued) {
    const why = releases.get(id) ?? [];
    assert.equal(why.length, liveIds.has(id) ? 0 : 1, `reservation ${id} released ${why.length} times (${why})`);
  }
  const stats = pool.stats;
  assert.deepEqual(stats, { ...model.stats, live: model.live.length });
  const reasons = [...releases.values()].flat();
  for (const why of ['expired', 'consumed', 'cancelled'] as const) {
    assert.equal(reasons.filter((x) => x === why).length, stats[why], `onRelease('${why}') count`);
  }
  assert.equal(stats.reserved, stats.consumed + stats.expired + stats.cancelled + stats.live);
  assert.equal(stats.reserved, issued.length);
  assert.equal(pool.nextExpiry(), model.nextExpiry());
  for (const host of HOSTS) assert.equal(pool.pendingFor(host), model.pendingFor(host));
}

describe('CircularPool against a naive model', () => {
  it('agrees on small pools (1-4 addresses) and keeps every invariant', () => {
    const setup = fc.record({
      n: fc.constantFrom(1, 2, 3, 3, 4, 4),
      keys: fc.oneof(fc.constant(KEYS), fc.subarray(KEYS, { minLength: 2, maxLength: 3 })),
      lifetimeMs: fc.constantFrom(100, 200),
      maxTrackedKeys: fc.constantFrom(undefined, undefined, 1, 2),
    });
    fc.assert(fc.property(setup, fc.array(opsFrom(MIXED), { maxLength: 80 }), run), { numRuns: 800 });
  });

  it('agrees under fast churn on 1-2 crowded addresses', () => {
    const setup = fc.record({
      n: fc.constantFrom(1, 2),
      keys: fc.subarray(KEYS, { minLength: 2, maxLength: 4 }),
      lifetimeMs: fc.constant(1000),
      maxTrackedKeys: fc.constantFrom(undefined, 2),
    });
    fc.assert(fc.property(setup, fc.array(opsFrom(CHURN), { maxLength: 40 }), run), { numRuns: 1500 });
  });

  it('agrees on pools of 30-70 addresses (cursor wrap, multi-word bitsets)', () => {
    const setup = fc.record({
      n: fc.integer({ min: 30, max: 70 }),
      keys: fc.oneof(fc.constant(KEYS), fc.subarray(KEYS, { minLength: 1, maxLength: 3 })),
      lifetimeMs: fc.constantFrom(300, 1000),
      maxTrackedKeys: fc.constantFrom(undefined, 2),
    });
    fc.assert(fc.property(setup, fc.array(opsFrom(MIXED), { minLength: 100, maxLength: 300 }), run), { numRuns: 60 });
  });
});
