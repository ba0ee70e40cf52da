import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/stun/rate-limit.js';

function clock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

describe('STUN rate limiter', () => {
  it('a source gets its burst, then its rate', () => {
    const c = clock();
    const rl = new RateLimiter({ perSourceRate: 2, perSourceBurst: 3 }, c.now);
    assert.deepEqual([1, 2, 3, 4].map(() => rl.allow('a')), [true, true, true, false]);
    c.t += 499;
    assert.equal(rl.allow('a'), false);
    c.t += 1; // 500 ms at 2/s: one token
    assert.equal(rl.allow('a'), true);
    assert.equal(rl.allow('a'), false);
    assert.equal(rl.allow('b'), true, 'other sources have their own bucket');
  });

  it('the global bucket caps the server whatever the number of sources (spoofed floods)', () => {
    const c = clock();
    const rl = new RateLimiter({ globalRate: 10, globalBurst: 5 }, c.now);
    const allowed = Array.from({ length: 100 }, (_, i) => rl.allow(`10.0.0.${i}`)).filter(Boolean).length;
    assert.equal(allowed, 5);
    c.t += 1000;
    assert.equal(Array.from({ length: 100 }, (_, i) => rl.allow(`10.1.0.${i}`)).filter(Boolean).length, 5, 'refilled to its burst, not beyond');
  });

  it('memory is bounded: the least recently seen source is forgotten first', () => {
    const c = clock();
    const rl = new RateLimiter({ perSourceRate: 1, perSourceBurst: 1, maxSources: 3, globalBurst: 1e6, globalRate: 1e6 }, c.now);
    for (const s of ['a', 'b', 'c']) assert.equal(rl.allow(s), true);
    assert.equal(rl.allow('a'), false); // a is now the most recent
    assert.equal(rl.allow('d'), true); // evicts b
    assert.equal(rl.size, 3);
    assert.equal(rl.allow('a'), false, 'a was kept, still limited');
    assert.equal(rl.allow('b'), true, 'b was forgotten, so it starts afresh');
    for (let i = 0; i < 10_000; i++) rl.allow(`x${i}`);
    assert.equal(rl.size, 3);
  });

  it('sources idle long enough to have refilled are dropped (nothing is lost by forgetting them)', () => {
    const c = clock();
    const rl = new RateLimiter({ perSourceRate: 10, perSourceBurst: 20 }, c.now);
    for (let i = 0; i < 50; i++) rl.allow(`s${i}`);
    assert.equal(rl.size, 50);
    c.t += 1999;
    rl.allow('fresh');
    assert.equal(rl.size, 51);
    c.t += 1;
    rl.allow('fresh2');
    assert.equal(rl.size, 2, 'the 50 idle for 2 s (burst/rate) are gone');
  });

  it('rejects nonsense settings', () => {
    assert.throws(() => new RateLimiter({ perSourceRate: 0 }), RangeError);
    assert.throws(() => new RateLimiter({ maxSources: Number.NaN }), RangeError);
  });
});
