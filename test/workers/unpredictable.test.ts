/** Public ports must not be guessable from earlier ones (SONM handed them out in order). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from '../../src/workers/registry.js';
import { makeConfig, secretOf, seededRandom } from './support.js';

const T0 = 1_800_000_000_000;
const START = 40000;
const SIZE = 1000;

function allocateOneEach(registry: Registry, workers: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < workers; i++) {
    const res = registry.register(`w${i}`, secretOf(`w${i}`), { address: `10.9.0.${10 + i}` }, [{ port: 22, protocol: 'tcp' }], T0 + i);
    assert.ok(res.ok);
    out.push(res.leases[0].publicPort);
  }
  return out;
}

function sequentialSteps(ports: number[]): number {
  let n = 0;
  for (let i = 1; i < ports.length; i++) if (ports[i] === ports[i - 1] + 1) n++;
  return n;
}

/** Pearson's chi-square of the ports over 10 equal bins of the range. */
function chiSquare(ports: number[]): number {
  const bins = new Array<number>(10).fill(0);
  for (const p of ports) bins[Math.floor(((p - START) * 10) / SIZE)]++;
  const expected = ports.length / 10;
  return bins.reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
}

describe('public ports are unpredictable', () => {
  const names = Array.from({ length: 60 }, (_, i) => `w${i}`);
  const config = makeConfig({ names, ports: [START, START + SIZE - 1], quota: 300 });

  it('one registration of 300 services: ports spread over the range, in no order (seeded)', () => {
    const registry = new Registry(config, { random: seededRandom(20261122) });
    const services = Array.from({ length: 300 }, (_, i) => ({ port: 1000 + i, protocol: 'tcp' as const }));
    const res = registry.register('w0', secretOf('w0'), { address: '10.9.0.10' }, services, T0);
    assert.ok(res.ok);
    const ports = res.leases.map((l) => l.publicPort); // in service order, the order they were drawn
    assert.equal(new Set(ports).size, 300);
    // Sequential allocation gives 299 steps of +1; random draws about 300/1000.
    assert.ok(sequentialSteps(ports) <= 5, `${sequentialSteps(ports)} sequential steps`);
    let ascents = 0;
    for (let i = 1; i < ports.length; i++) if (ports[i] > ports[i - 1]) ascents++;
    assert.ok(ascents > 110 && ascents < 190, `${ascents} ascents of 299`);
    // 9 degrees of freedom: 27.9 is the 0.1 % tail; sequential allocation scores 2,100.
    assert.ok(chiSquare(ports) < 27.9, `chi-square ${chiSquare(ports)}`);
  });

  it('one service each for 60 workers in turn: no worker can predict the next port (seeded)', () => {
    const ports = allocateOneEach(new Registry(config, { random: seededRandom(7) }), 60);
    assert.ok(sequentialSteps(ports) <= 2, `${sequentialSteps(ports)} sequential steps`);
    const gaps = ports.slice(1).map((p, i) => p - ports[i]);
    assert.ok(new Set(gaps).size > 50, 'the gaps between consecutive ports vary');
  });

  it('the first port is not the start of the range', () => {
    const firsts = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => allocateOneEach(new Registry(config, { random: seededRandom(seed) }), 1)[0]);
    assert.ok(firsts.filter((p) => p === START).length <= 1, firsts.join(' '));
    assert.ok(new Set(firsts).size >= 7, firsts.join(' '));
  });

  it('by default the draws come from crypto.randomInt: two gateways hand out different ports', () => {
    const a = allocateOneEach(new Registry(config), 20);
    const b = allocateOneEach(new Registry(config), 20);
    assert.notDeepEqual(a, b);
  });
});
