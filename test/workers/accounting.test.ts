import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Counters, ZERO_COUNTERS, addCounters, mergeSample, totalsByWorker } from '../../src/workers/accounting.js';
import { makeLease } from '../../src/workers/lease.js';

const c = (connections: number, packetsIn: number, packetsOut: number, bytesIn: number, bytesOut: number): Counters => ({ connections, packetsIn, packetsOut, bytesIn, bytesOut });
const L1 = makeLease('w1', { port: 10053, protocol: 'tcp' }, 40000, '10.9.0.10');
const L2 = makeLease('w2', { port: 10053, protocol: 'udp' }, 40001, '10.9.0.11');

describe('lease accounting', () => {
  it('a first reading starts the account', () => {
    const a = mergeSample(undefined, L1, c(1, 10, 8, 1000, 800), 5);
    assert.deepEqual(a, { lease: L1, total: c(1, 10, 8, 1000, 800), last: c(1, 10, 8, 1000, 800), since: 5, updatedAt: 5 });
  });

  it('later readings add their increase', () => {
    let a = mergeSample(undefined, L1, c(1, 10, 8, 1000, 800), 5);
    a = mergeSample(a, L1, c(3, 15, 9, 1500, 900), 6);
    assert.deepEqual(a.total, c(3, 15, 9, 1500, 900));
    assert.equal(a.since, 5);
    assert.equal(a.updatedAt, 6);
  });

  it('a reading below the last one is a kernel counter reset: it counts from zero again', () => {
    let a = mergeSample(undefined, L1, c(5, 50, 40, 5000, 4000), 1);
    a = mergeSample(a, L1, c(1, 2, 3, 4, 5), 2);
    assert.deepEqual(a.total, c(6, 52, 43, 5004, 4005));
    a = mergeSample(a, L1, c(1, 4, 3, 8, 5), 3);
    assert.deepEqual(a.total, c(6, 54, 43, 5008, 4005));
  });

  it('an account is not carried over to another lease on the same public port, or to a moved worker', () => {
    const a = mergeSample(undefined, L1, c(5, 50, 40, 5000, 4000), 1);
    const other = makeLease('w2', { port: 10053, protocol: 'tcp' }, 40000, '10.9.0.11');
    assert.deepEqual(mergeSample(a, other, c(1, 1, 1, 1, 1), 2).total, c(1, 1, 1, 1, 1));
    const moved = makeLease('w1', { port: 10053, protocol: 'tcp' }, 40000, '10.9.0.12');
    assert.equal(mergeSample(a, moved, c(6, 60, 50, 6000, 5000), 2).since, 2);
  });

  it('refuses negative or fractional readings', () => {
    assert.throws(() => mergeSample(undefined, L1, c(-1, 0, 0, 0, 0), 1), /connections/);
    assert.throws(() => mergeSample(undefined, L1, c(0, 0.5, 0, 0, 0), 1), /packetsIn/);
  });

  it('sums per worker', () => {
    const accounts = [mergeSample(undefined, L1, c(1, 2, 3, 4, 5), 1), mergeSample(undefined, L2, c(1, 1, 1, 1, 1), 1), mergeSample(undefined, makeLease('w1', { port: 22, protocol: 'tcp' }, 40002, '10.9.0.10'), c(1, 1, 1, 1, 1), 1)];
    assert.deepEqual(totalsByWorker(accounts), new Map([['w1', c(2, 3, 4, 5, 6)], ['w2', c(1, 1, 1, 1, 1)]]));
    assert.deepEqual(addCounters(ZERO_COUNTERS, c(1, 2, 3, 4, 5)), c(1, 2, 3, 4, 5));
  });
});
