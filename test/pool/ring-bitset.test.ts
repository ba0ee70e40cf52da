import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RingBitset } from '../../src/pool/ring-bitset.js';
import { Fifo } from '../../src/pool/fifo.js';

function naiveNextClear(set: Set<number>, size: number, from: number): number {
  for (let i = from; i < size; i++) if (!set.has(i)) return i;
  return -1;
}

describe('RingBitset', () => {
  it('finds clear bits across word and level boundaries', () => {
    const size = 32 * 32 * 3 + 7; // three levels, partial last words
    const bits = new RingBitset(size);
    for (let i = 0; i < size; i++) bits.set(i);
    assert.equal(bits.nextClear(0), -1);
    assert.equal(bits.nextClearWrapping(500), -1);
    bits.clear(size - 1);
    assert.equal(bits.nextClear(0), size - 1);
    bits.clear(33);
    assert.equal(bits.nextClear(0), 33);
    assert.equal(bits.nextClear(34), size - 1);
    assert.equal(bits.nextClearWrapping(size - 1), size - 1);
    bits.set(size - 1);
    assert.equal(bits.nextClearWrapping(40), 33);
    assert.equal(bits.nextClear(size), -1);
  });

  it('handles a single bit', () => {
    const bits = new RingBitset(1);
    assert.equal(bits.nextClearWrapping(0), 0);
    bits.set(0);
    assert.equal(bits.has(0), true);
    assert.equal(bits.nextClearWrapping(0), -1);
    bits.clear(0);
    assert.equal(bits.nextClear(0), 0);
  });

  it('agrees with a naive set under random set/clear/search', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('clear' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('fill' as const), from: fc.nat(), len: fc.nat({ max: 2000 }) }),
      fc.record({ kind: fc.constant('search' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.array(op, { maxLength: 60 }), (size, ops) => {
        const bits = new RingBitset(size);
        const model = new Set<number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            bits.set(o.at % size);
            model.add(o.at % size);
          } else if (o.kind === 'clear') {
            bits.clear(o.at % size);
            model.delete(o.at % size);
          } else if (o.kind === 'fill') {
            for (let i = o.from % size; i < Math.min(size, (o.from % size) + o.len); i++) {
              bits.set(i);
              model.add(i);
            }
          } else {
            const from = o.at % size;
            assert.equal(bits.nextClear(from), naiveNextClear(model, size, from));
            const wrapped = naiveNextClear(model, size, from);
            assert.equal(bits.nextClearWrapping(from), wrapped >= 0 ? wrapped : naiveNextClear(model, size, 0));
          }
          const probe = ops.length % size;
          assert.equal(bits.has(probe), model.has(probe));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Fifo', () => {
  it('keeps order across compactions', () => {
    const q = new Fifo<number>();
    let next = 0;
    let expect = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) q.push(next++);
      for (let i = 0; i < 250; i++) assert.equal(q.shift(), expect++);
    }
    assert.equal(q.length, next - expect);
    while (q.length > 0) assert.equal(q.shift(), expect++);
    assert.equal(q.peek(), undefined);
    assert.equal(q.shift(), undefined);
  });
});
