import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircularPool, matchOrder, type Reservation } from '../../src/pool/circular-pool.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import {
  A, ANY, ANY_443, ANY_80, B, C, D, ICMP, TCP22, TCP80, TCP_ANY, UDP_ANY, addressOf, recordingPool, req,
} from './support.js';

describe('CircularPool construction', () => {
  it('rejects an empty address list, duplicates, bad addresses and bad lifetimes', () => {
    assert.throws(() => new CircularPool({ addresses: [], lifetimeMs: 2000 }), /address list is empty/);
    assert.throws(() => new CircularPool({ addresses: [A, B, A], lifetimeMs: 2000 }), /duplicate pool address 198\.51\.100\.1/);
    assert.throws(() => new CircularPool({ addresses: [-1], lifetimeMs: 2000 }), /as u32/);
    assert.throws(() => new CircularPool({ addresses: [2 ** 32], lifetimeMs: 2000 }), /as u32/);
    assert.throws(() => new CircularPool({ addresses: [1.5], lifetimeMs: 2000 }), /as u32/);
    for (const lifetimeMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new CircularPool({ addresses: [A], lifetimeMs }), /lifetimeMs must be a finite number > 0/);
    }
    assert.throws(() => new CircularPool({ addresses: [A], lifetimeMs: 2000 }).reserve(req(TCP80), Number.NaN), /now must be/);
  });

  it('reports its size and membership', () => {
    const pool = new CircularPool({ addresses: [D, A, C], lifetimeMs: 2000 });
    assert.equal(pool.size, 3);
    assert.equal(pool.contains(A), true);
    assert.equal(pool.contains(D), true);
    assert.equal(pool.contains(B), false);
    assert.equal(pool.contains(0), false);
  });
});

describe('request validation', () => {
  const pool = new CircularPool({ addresses: [A], lifetimeMs: 2000 });
  const bad: [Parameters<CircularPool['reserve']>[0], RegExp][] = [
    [req({ protocol: 256, port: 0 }), /protocol must be an integer 0\.\.255/],
    [req({ protocol: 6, port: 70000 }), /port must be an integer 0\.\.65535/],
    [req({ protocol: 1, port: 80 }), /protocol 1 has no ports/],
    [req(TCP80, { hostId: 'Host-A.gwa.demo' }), /hostId must be a canonical FQDN/],
    [req(TCP80, { hostId: 'host-a.gwa.demo.' }), /hostId must be a canonical FQDN/],
    [req(TCP80, { hostId: '' }), /hostId/],
    [req(TCP80, { target: -1 }), /target must be/],
    [req(TCP80, { service: '' }), /service must be/],
    [req(TCP80, { lifetimeMs: 0 }), /lifetimeMs must be/],
    [req(TCP80, { hostMax: -1 }), /hostMax must be/],
    [req(TCP80, { hostMax: 1.5 }), /hostMax must be/],
    [req(TCP80, { source: { network: parseIpv4('10.0.0.1'), prefixLength: 24 } }), /bits set beyond its \/24 prefix/],
    [req(TCP80, { source: { network: parseIpv4('10.0.0.0'), prefixLength: 33 } }), /prefixLength must be/],
  ];
  for (const [request, message] of bad) {
    it(`throws for ${message.source}`, () => {
      assert.throws(() => pool.reserve(request, 0), { name: 'PoolError', message });
      assert.equal(pool.stats.live, 0, 'a rejected request reserves nothing');
    });
  }
});

describe('circular order', () => {
  it('hands out addresses in order, moving the cursor past each one', () => {
    const { pool } = recordingPool([A, B, C, D]);
    assert.deepEqual([1, 2, 3, 4].map(() => addressOf(pool.reserve(req(TCP80), 0))), [A, B, C, D]);
  });

  it('spreads even keys that could share, so an address is reused as late as possible', () => {
    const { pool } = recordingPool([A, B, C, D]);
    assert.equal(addressOf(pool.reserve(req(TCP80), 0)), A);
    assert.equal(addressOf(pool.reserve(req(TCP22), 0)), B);
    assert.equal(addressOf(pool.reserve(req(UDP_ANY), 0)), C);
    assert.equal(addressOf(pool.reserve(req(ICMP), 0)), D);
    assert.equal(addressOf(pool.reserve(req(TCP22), 0)), A, 'wraps to the first address it can share');
  });

  it('skips addresses with an overlapping reservation and wraps around', () => {
    const { pool } = recordingPool([A, B, C, D]);
    const first = pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80), 0);
    assert.ok(first.ok);
    pool.consume({ dst: A, protocol: 6, port: 80 }, 1);
    assert.equal(addressOf(pool.reserve(req(TCP80), 1)), D);
    assert.equal(addressOf(pool.reserve(req(TCP80), 1)), A, 'A came back to the pool');
  });
});

describe('sharing and exhaustion', () => {
  it('shares an address only between keys that cannot overlap', () => {
    const { pool } = recordingPool([A, B, C]);
    assert.deepEqual([1, 2, 3].map(() => addressOf(pool.reserve(req(TCP80), 0))), [A, B, C]);
    assert.deepEqual(pool.reserve(req(TCP80), 0), { ok: false, reason: 'exhausted' });
    assert.deepEqual(pool.reserve(req(ANY_80), 0), { ok: false, reason: 'exhausted' });
    assert.deepEqual(pool.reserve(req(TCP_ANY), 0), { ok: false, reason: 'exhausted' });
    assert.equal(addressOf(pool.reserve(req(TCP22), 0)), A);
    assert.equal(addressOf(pool.reserve(req(UDP_ANY), 0)), B);
    assert.equal(addressOf(pool.reserve(req(ICMP), 0)), C);
    assert.equal(addressOf(pool.reserve(req(ANY_443), 0)), A, '{0,443} overlaps neither tcp/80 nor tcp/22');
    assert.deepEqual(pool.reserve(req(ANY), 0), { ok: false, reason: 'exhausted' });
    assert.equal(pool.live(A).length, 3);
    assert.equal(pool.stats.exhausted, 4);
  });

  it('recovers from exhaustion when reservations expire, without expire() being called', () => {
    const { pool, released } = recordingPool([A, B, C], 2000);
    for (let i = 0; i < 3; i++) pool.reserve(req(TCP80), 0);
    assert.deepEqual(pool.reserve(req(TCP80), 1999), { ok: false, reason: 'exhausted' });
    assert.equal(released.length, 0);
    assert.equal(addressOf(pool.reserve(req(TCP80), 2000)), A);
    assert.deepEqual(released.map((x) => x.why), ['expired', 'expired', 'expired']);
    assert.deepEqual(pool.expire(2000), [], 'already reported; never twice');
  });

  it('keeps an address taken for a wildcard key while any reservation there still overlaps it', () => {
    const { pool } = recordingPool([A]);
    assert.ok(pool.reserve(req(TCP_ANY), 0).ok);
    pool.consume({ dst: A, protocol: 6, port: 1 }, 0);
    assert.ok(pool.reserve(req(TCP80), 0).ok);
    assert.ok(pool.reserve(req(TCP22), 0).ok);
    pool.consume({ dst: A, protocol: 6, port: 80 }, 0);
    assert.deepEqual(pool.reserve(req(TCP_ANY), 0), { ok: false, reason: 'exhausted' }, 'tcp/22 is still there');
    assert.deepEqual(pool.reserve(req(ANY), 0), { ok: false, reason: 'exhausted' });
    pool.consume({ dst: A, protocol: 6, port: 22 }, 0);
    assert.ok(pool.reserve(req(TCP_ANY), 0).ok);
  });

  it('does not let a source constraint share an address with the same key', () => {
    const { pool } = recordingPool([A]);
    pool.reserve(req(TCP80, { source: { network: parseIpv4('10.0.0.0'), prefixLength: 8 } }), 0);
    assert.deepEqual(pool.reserve(req(TCP80, { source: { network: parseIpv4('11.0.0.0'), prefixLength: 8 } }), 0), {
      ok: false,
      reason: 'exhausted',
    });
  });
});

describe('host limit', () => {
  it('caps pending reservations per host, before looking for an address', () => {
    const { pool } = recordingPool([A, B, C, D]);
    const limited = { hostMax: 2 };
    assert.ok(pool.reserve(req(TCP80, limited), 0).ok);
    assert.ok(pool.reserve(req(TCP80, limited), 0).ok);
    assert.deepEqual(pool.reserve(req(TCP80, limited), 0), { ok: false, reason: 'host-limit' });
    assert.equal(pool.pendingFor('host-a.gwa.demo'), 2);
    assert.ok(pool.reserve(req(TCP80, { hostId: 'host-b.gwa.demo', hostMax: 2 }), 0).ok, 'other hosts are not limited');
    assert.ok(pool.reserve(req(TCP80, { hostId: 'host-b.gwa.demo' }), 0).ok);
    assert.deepEqual(pool.reserve(req(TCP80, limited), 0), { ok: false, reason: 'host-limit' }, 'even when exhausted');
    pool.consume({ dst: A, protocol: 6, port: 80 }, 0);
    assert.equal(pool.pendingFor('host-a.gwa.demo'), 1);
    assert.ok(pool.reserve(req(TCP80, limited), 0).ok);
    assert.deepEqual(pool.reserve(req(TCP80, { hostMax: 0, hostId: 'host-c.gwa.demo' }), 0), { ok: false, reason: 'host-limit' });
    assert.equal(pool.stats.hostLimited, 3);
    assert.equal(pool.pendingFor('nobody.gwa.demo'), 0);
  });

  it('counts a host down as its reservations expire', () => {
    const { pool } = recordingPool([A, B], 100);
    pool.reserve(req(TCP80, { hostMax: 1 }), 0);
    assert.deepEqual(pool.reserve(req(TCP80, { hostMax: 1 }), 99), { ok: false, reason: 'host-limit' });
    assert.ok(pool.reserve(req(TCP80, { hostMax: 1 }), 100).ok);
  });
});

describe('matching', () => {
  it('sends each packet to the one reservation whose key it matches', () => {
    const { pool } = recordingPool([A]);
    const ids = new Map<string, number>();
    for (const [name, key] of [['tcp80', TCP80], ['tcp22', TCP22], ['udp', UDP_ANY], ['icmp', ICMP]] as const) {
      const r = pool.reserve(req(key), 0);
      assert.ok(r.ok);
      ids.set(name, r.reservation.id);
    }
    assert.equal(pool.find({ dst: A, protocol: 6, port: 80 }, 0)?.id, ids.get('tcp80'));
    assert.equal(pool.find({ dst: A, protocol: 6, port: 22 }, 0)?.id, ids.get('tcp22'));
    assert.equal(pool.find({ dst: A, protocol: 17, port: 5353 }, 0)?.id, ids.get('udp'));
    assert.equal(pool.find({ dst: A, protocol: 1, port: 0 }, 0)?.id, ids.get('icmp'));
    assert.equal(pool.find({ dst: A, protocol: 6, port: 443 }, 0), undefined);
    assert.equal(pool.find({ dst: B, protocol: 6, port: 80 }, 0), undefined, 'not a pool address');
    assert.equal(pool.stats.live, 4, 'find consumes nothing');
  });

  it('does not let a portless packet with a bogus port match a port key', () => {
    const { pool } = recordingPool([A]);
    pool.reserve(req(ICMP), 0);
    pool.reserve(req(ANY_80), 0);
    assert.equal(pool.find({ dst: A, protocol: 1, port: 80 }, 0)?.key, pool.live(A)[0].key);
    assert.deepEqual(pool.find({ dst: A, protocol: 1, port: 80 }, 0)?.key, ICMP);
  });

  it('orders candidates by match rank, then creation time, then id', () => {
    const base = { hostId: 'h', target: 1, service: 's', id: 1, address: A, createdAt: 10, expiresAt: 20 };
    const r = (key: typeof TCP80, createdAt: number, id: number): Reservation => ({ ...base, key, createdAt, id });
    const sorted = [r(ANY, 0, 1), r(ANY_80, 0, 2), r(TCP_ANY, 5, 3), r(TCP80, 9, 4), r(TCP80, 9, 5), r(TCP80, 3, 6)]
      .sort(matchOrder)
      .map((x) => x.id);
    assert.deepEqual(sorted, [6, 4, 5, 3, 2, 1]);
  });

  it('honours a source prefix; a packet without a source never matches a constrained reservation', () => {
    const { pool } = recordingPool([A, B, C]);
    pool.reserve(req(TCP80, { source: { network: parseIpv4('192.0.2.0'), prefixLength: 24 } }), 0);
    pool.reserve(req(TCP80, { source: { network: 0, prefixLength: 0 } }), 0);
    pool.reserve(req(TCP80, { source: { network: parseIpv4('203.0.113.7'), prefixLength: 32 } }), 0);
    const pkt = (dst: number, src?: number) => ({ dst, protocol: 6, port: 80, src });
    assert.equal(pool.find(pkt(A), 0), undefined);
    assert.ok(pool.find(pkt(A, parseIpv4('192.0.2.255')), 0));
    assert.equal(pool.find(pkt(A, parseIpv4('192.0.3.1')), 0), undefined);
    assert.equal(pool.find(pkt(B), 0), undefined, '/0 still needs a source');
    assert.ok(pool.find(pkt(B, parseIpv4('255.255.255.255')), 0));
    assert.ok(pool.find(pkt(C, parseIpv4('203.0.113.7')), 0));
    assert.equal(pool.find(pkt(C, parseIpv4('203.0.113.6')), 0), undefined);
  });

  it('findBoundElsewhere: a live bound reservation the packet matches but for its source, left in place', () => {
    const { pool } = recordingPool([A, B]);
    pool.reserve(req(TCP80, { source: { network: parseIpv4('192.0.2.0'), prefixLength: 24 } }), 0);
    pool.reserve(req(TCP80), 0);
    const pkt = (dst: number, src: number, port = 80) => ({ dst, protocol: 6, port, src });
    assert.ok(pool.findBoundElsewhere(pkt(A, parseIpv4('198.51.100.1')), 0), 'foreign source');
    assert.equal(pool.findBoundElsewhere(pkt(A, parseIpv4('192.0.2.9')), 0), undefined, 'its own client');
    assert.equal(pool.findBoundElsewhere(pkt(A, parseIpv4('198.51.100.1'), 81), 0), undefined, 'another key');
    assert.equal(pool.findBoundElsewhere(pkt(B, parseIpv4('198.51.100.1')), 0), undefined, 'unbound');
    assert.equal(pool.stats.live, 2);
  });
});

describe('lifetime and expiry', () => {
  it('is live while now < expiresAt and never matches after', () => {
    const { pool } = recordingPool([A], 2000);
    const r = pool.reserve(req(TCP80), 1000);
    assert.ok(r.ok);
    assert.equal(r.reservation.createdAt, 1000);
    assert.equal(r.reservation.expiresAt, 3000);
    assert.ok(pool.find({ dst: A, protocol: 6, port: 80 }, 2999));
    assert.equal(pool.consume({ dst: A, protocol: 6, port: 80 }, 3000), undefined);
  });

  it('reports each expired reservation exactly once, through onRelease and expire()', () => {
    const { pool, released } = recordingPool([A, B, C], 100);
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80, { lifetimeMs: 300 }), 0);
    pool.reserve(req(TCP80), 50);
    assert.deepEqual(pool.expire(99), []);
    assert.deepEqual(pool.expire(100).map((r) => r.address), [A]);
    assert.equal(pool.find({ dst: C, protocol: 6, port: 80 }, 150), undefined, 'purged lazily by find');
    assert.deepEqual(pool.expire(150), [], 'C was reported by the lazy purge, not again');
    assert.deepEqual(pool.expire(1000).map((r) => r.address), [B]);
    assert.deepEqual(pool.expire(2000), []);
    assert.deepEqual(released.map((x) => [x.r.address, x.why]), [[A, 'expired'], [C, 'expired'], [B, 'expired']]);
    assert.deepEqual(pool.stats, { reserved: 3, consumed: 0, expired: 3, cancelled: 0, exhausted: 0, hostLimited: 0, flows: 0, live: 0 });
  });

  it('gives the earliest expiry for a timer, ignoring released reservations', () => {
    const { pool } = recordingPool([A, B, C], 2000);
    assert.equal(pool.nextExpiry(), undefined);
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80, { lifetimeMs: 500 }), 100);
    pool.reserve(req(TCP80, { lifetimeMs: 5000 }), 100);
    assert.equal(pool.nextExpiry(), 600);
    pool.consume({ dst: B, protocol: 6, port: 80 }, 200);
    assert.equal(pool.nextExpiry(), 2000);
    pool.expire(2000);
    assert.equal(pool.nextExpiry(), 5100);
    pool.expire(5100);
    assert.equal(pool.nextExpiry(), undefined);
  });

  it('never moves its clock backwards', () => {
    const { pool } = recordingPool([A, B], 100);
    pool.reserve(req(TCP80), 1000);
    const r = pool.reserve(req(TCP80), 0);
    assert.ok(r.ok);
    assert.equal(r.reservation.createdAt, 1000, 'a smaller now counts as the latest seen');
    assert.ok(pool.find({ dst: A, protocol: 6, port: 80 }, 0), 'live: the clock is at 1000, A expires at 1100');
    assert.equal(pool.find({ dst: A, protocol: 6, port: 80 }, 1100), undefined);
  });
});

describe('consume and cancel', () => {
  it('consume removes the reservation and returns its address to the pool', () => {
    const { pool, released } = recordingPool([A]);
    const r = pool.reserve(req(TCP80, { loosePacket: 0 }), 0);
    assert.ok(r.ok);
    assert.deepEqual(pool.reserve(req(TCP80), 0), { ok: false, reason: 'exhausted' });
    const consumed = pool.consume({ dst: A, protocol: 6, port: 80, src: 1 }, 10);
    assert.equal(consumed, r.reservation);
    assert.equal(pool.consume({ dst: A, protocol: 6, port: 80, src: 1 }, 10), undefined, 'single use');
    assert.deepEqual(released, [{ r: r.reservation, why: 'consumed' }]);
    assert.equal(addressOf(pool.reserve(req(TCP80), 10)), A);
  });

  it('loose_packet N: N more flows, only from the first flow\'s source; then the address is free again', () => {
    const { pool, released } = recordingPool([A]);
    const r = pool.reserve(req(TCP80, { loosePacket: 2 }), 0);
    assert.ok(r.ok);
    const pkt = (src: number) => ({ dst: A, protocol: 6, port: 80, src });
    assert.equal(pool.consume(pkt(7), 10), r.reservation, 'the first flow, from 7');
    assert.deepEqual(pool.looseState(r.reservation.id), { usedBy: 7, remaining: 2 });
    assert.equal(pool.consume(pkt(8), 11), undefined, 'another source is refused');
    assert.equal(pool.consume(pkt(7), 12), r.reservation, 'second flow');
    assert.deepEqual(released, [], 'still held');
    assert.deepEqual(pool.reserve(req(TCP80), 12), { ok: false, reason: 'exhausted' }, 'its slot is still taken');
    assert.equal(pool.consume(pkt(7), 13), r.reservation, 'third flow: the last one');
    assert.deepEqual(released, [{ r: r.reservation, why: 'consumed' }]);
    assert.equal(pool.consume(pkt(7), 14), undefined);
    assert.equal(pool.stats.flows, 3);
    assert.equal(pool.stats.consumed, 1);
  });

  it('loose_packet -1: flows from the first source until it expires, then released as consumed (it was used)', () => {
    const { pool, released } = recordingPool([A], 100);
    const r = pool.reserve(req(TCP80, { loosePacket: -1 }), 0);
    assert.ok(r.ok);
    for (let t = 1; t <= 50; t++) assert.equal(pool.consume({ dst: A, protocol: 6, port: 80, src: 7 }, t), r.reservation);
    assert.deepEqual(pool.expire(100), [], 'not an expired (unused) reservation');
    assert.deepEqual(released, [{ r: r.reservation, why: 'consumed' }]);
    assert.deepEqual({ flows: pool.stats.flows, consumed: pool.stats.consumed, expired: pool.stats.expired }, { flows: 50, consumed: 1, expired: 0 });
    const unused = pool.reserve(req(TCP80, { loosePacket: -1 }), 100);
    assert.ok(unused.ok);
    assert.deepEqual(pool.expire(200), [unused.reservation], 'never used: expired as any other');
  });

  it('cancel removes a live reservation once; an expired one is reported as expired, not cancelled', () => {
    const { pool, released } = recordingPool([A, B], 100);
    const a = pool.reserve(req(TCP80), 0);
    const b = pool.reserve(req(TCP80), 0);
    assert.ok(a.ok && b.ok);
    assert.equal(pool.cancel(a.reservation.id, 10), true);
    assert.equal(pool.cancel(a.reservation.id, 10), false);
    assert.equal(pool.get(a.reservation.id), undefined);
    assert.equal(pool.cancel(b.reservation.id, 100), false);
    assert.equal(pool.cancel(9999, 100), false);
    assert.deepEqual(released.map((x) => [x.r.id, x.why]), [[a.reservation.id, 'cancelled'], [b.reservation.id, 'expired']]);
    assert.equal(addressOf(pool.reserve(req(TCP80), 100)), A);
  });
});

describe('reservations and stats', () => {
  it('carries the request through, frozen, with the effective lifetime', () => {
    const { pool } = recordingPool([A]);
    const source = { network: parseIpv4('10.0.0.0'), prefixLength: 8 };
    const owner = { who: 'the gate' };
    const r = pool.reserve(req(TCP80, { loosePacket: 2, hostMax: 5, source, owner }), 7);
    assert.ok(r.ok);
    const res = r.reservation;
    assert.deepEqual(
      { ...res },
      {
        id: 1, address: A, key: TCP80, hostId: 'host-a.gwa.demo', target: parseIpv4('192.168.0.10'),
        service: 'www.host-a.gwa.demo', lifetimeMs: 2000, hostMax: 5, source, loosePacket: 2, owner, createdAt: 7, expiresAt: 2007,
      },
    );
    assert.ok(Object.isFrozen(res) && Object.isFrozen(res.key) && Object.isFrozen(res.source));
    assert.notEqual(res.key, TCP80, 'the caller keeps its own key object');
    assert.deepEqual(pool.live(), [res]);
    assert.deepEqual(pool.live(A), [res]);
    assert.deepEqual(pool.live(B), []);
    assert.equal(pool.get(res.id), res);
  });

  it('counts every outcome and the live ones add up', () => {
    const { pool } = recordingPool([A, B], 100);
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP22, { hostMax: 0 }), 0);
    pool.consume({ dst: A, protocol: 6, port: 80 }, 0);
    const c = pool.reserve(req(TCP22), 0);
    assert.ok(c.ok);
    pool.cancel(c.reservation.id, 0);
    pool.reserve(req(TCP22), 50);
    pool.expire(100);
    const s = pool.stats;
    assert.deepEqual(s, { reserved: 4, consumed: 1, expired: 1, cancelled: 1, exhausted: 1, hostLimited: 1, flows: 1, live: 1 });
    assert.equal(s.reserved, s.consumed + s.expired + s.cancelled + s.live);
  });

  it('keeps its state and calls every callback when one throws, then rethrows', () => {
    let calls = 0;
    const pool = new CircularPool({
      addresses: [A, B],
      lifetimeMs: 100,
      onRelease: () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    pool.reserve(req(TCP80), 0);
    pool.reserve(req(TCP80), 0);
    assert.throws(() => pool.expire(100), /boom/);
    assert.equal(calls, 2);
    assert.equal(pool.stats.live, 0);
    assert.deepEqual(pool.expire(200), []);
    assert.equal(addressOf(pool.reserve(req(TCP80), 200)), A);
  });

  it('evicts conflict bitsets of rarely used keys without losing correctness', () => {
    const pool = new CircularPool({ addresses: [A, B], lifetimeMs: 1000, maxTrackedKeys: 1 });
    assert.equal(addressOf(pool.reserve(req(TCP80), 0)), A);
    assert.equal(addressOf(pool.reserve(req(TCP22), 0)), B);
    assert.equal(addressOf(pool.reserve(req(TCP80), 0)), B, 'rebuilt from live reservations');
    assert.deepEqual(pool.reserve(req(TCP80), 0), { ok: false, reason: 'exhausted' });
    assert.deepEqual(pool.reserve(req(ANY), 0), { ok: false, reason: 'exhausted' });
    pool.consume({ dst: B, protocol: 6, port: 22 }, 0);
    pool.consume({ dst: B, protocol: 6, port: 80 }, 0);
    assert.equal(addressOf(pool.reserve(req(ANY), 0)), B);
  });
});

describe('a large pool', () => {
  it('finds the one address left among 2^16, then the next after the cursor', () => {
    const addresses = Array.from({ length: 1 << 16 }, (_, i) => parseIpv4('100.64.0.0') + i);
    const pool = new CircularPool({ addresses, lifetimeMs: 1000 });
    for (let i = 0; i < addresses.length; i++) assert.equal(addressOf(pool.reserve(req(TCP80), 0)), addresses[i]);
    assert.deepEqual(pool.reserve(req(TCP80), 0), { ok: false, reason: 'exhausted' });
    pool.consume({ dst: addresses[40000], protocol: 6, port: 80 }, 1);
    pool.consume({ dst: addresses[7], protocol: 6, port: 80 }, 1);
    assert.equal(addressOf(pool.reserve(req(TCP80), 1)), addresses[7], 'cursor wrapped to 0');
    assert.equal(addressOf(pool.reserve(req(TCP80), 1)), addresses[40000]);
    assert.equal(addressOf(pool.reserve(req(TCP22), 1)), addresses[40001]);
    assert.equal(pool.stats.live, addresses.length + 1);
  });
});
