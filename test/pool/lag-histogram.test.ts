import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { LagHistogram } from '../../src/pool/lag-histogram.js';
import { A, B, TCP80, req } from './support.js';

describe('LagHistogram', () => {
  it('counts each observation in the first bucket whose bound holds it, the rest above every bound', () => {
    const h = new LagHistogram([1, 10, 100]);
    for (const ms of [0, 1, 1.5, 10, 99, 100, 101, 5000, -3]) h.record(ms);
    assert.deepEqual(h.snapshot(), { bounds: [1, 10, 100], counts: [3, 2, 2, 2], sum: 0 + 1 + 1.5 + 10 + 99 + 100 + 101 + 5000, count: 9 });
  });

  it('refuses bounds that do not ascend', () => {
    assert.throws(() => new LagHistogram([1, 1]), /ascend/);
    assert.throws(() => new LagHistogram([5, 2]), /ascend/);
  });
});

describe('CircularPool confirmation lag', () => {
  it('records the time from reservation to consumption, once per reservation; expiry records nothing', () => {
    const pool = new CircularPool({ addresses: [A, B], lifetimeMs: 2000 });
    const r = pool.reserve(req(TCP80), 100);
    assert.ok(r.ok);
    pool.reserve(req(TCP80), 101);
    assert.ok(pool.consume({ dst: r.reservation.address, protocol: 6, port: 80, src: 1 }, 103.5));
    pool.expire(5000);
    const h = pool.confirmationLag.snapshot();
    assert.equal(h.count, 1);
    assert.equal(h.sum, 3.5);
    assert.equal(h.counts[h.bounds.findIndex((b) => 3.5 <= b)], 1);
  });

  it('a loose reservation records its first flow only', () => {
    const pool = new CircularPool({ addresses: [A], lifetimeMs: 2000 });
    const r = pool.reserve(req(TCP80, { loosePacket: 2 }), 0);
    assert.ok(r.ok);
    for (const t of [7, 20, 30]) assert.ok(pool.consume({ dst: A, protocol: 6, port: 80, src: 9 }, t));
    assert.equal(pool.get(r.reservation.id), undefined, 'its last flow released it');
    assert.deepEqual({ count: pool.confirmationLag.snapshot().count, sum: pool.confirmationLag.snapshot().sum }, { count: 1, sum: 7 });
  });
});
