/**
 * Micro-benchmark of the circular pool (not a test): reserve/s and heap per 100k live reservations.
 *   npx tsc -p tsconfig.json && node --expose-gc dist/bench/pool-bench.js
 * Without --expose-gc the heap figures include garbage and are only rough.
 */
import { performance } from 'node:perf_hooks';
import { CircularPool, type ReservationRequest } from '../src/pool/circular-pool.js';
import type { FlowKey } from '../src/pool/flow-key.js';
import { expandIpv4Range, parseIpv4 } from '../src/util/ipv4.js';

const KEYS: FlowKey[] = [
  { protocol: 6, port: 80 },
  { protocol: 6, port: 443 },
  { protocol: 6, port: 22 },
  { protocol: 17, port: 0 },
];
const TARGET = parseIpv4('192.168.0.10');
const REQUESTS: ReservationRequest[] = KEYS.flatMap((key) =>
  Array.from({ length: 16 }, (_, h) => ({
    key,
    hostId: `host${h}.gwa.demo`,
    target: TARGET + h,
    service: `svc.host${h}.gwa.demo`,
  })),
);

/** JS heap and typed-array memory (the latter lives outside heapUsed). */
function memory(): { heap: number; buffers: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`;
}

/** Steady state: one reserve every `stepMs` of virtual time, so lifetime/stepMs reservations stay live. */
function steadyReserve(pool: CircularPool, count: number, stepMs: number, start: number) {
  let refused = 0;
  let now = start;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    now += stepMs;
    if (!pool.reserve(REQUESTS[i & 63], now).ok) refused++;
  }
  return { ms: performance.now() - t0, refused, now };
}

function bigPool(): void {
  const addresses = expandIpv4Range('100.64.0.0/12'); // 2^20 addresses
  const before = memory();
  const pool = new CircularPool({ addresses, lifetimeMs: 2000 });
  const empty = memory();
  let now = 0;
  for (let i = 0; i < 100_000; i++) pool.reserve(REQUESTS[i & 63], now + i * 0.01);
  const full = memory();
  console.log(
    `pool of ${addresses.length} addresses, empty: heap ${mib(empty.heap - before.heap)},` +
      ` typed arrays ${mib(empty.buffers - before.buffers)}`,
  );
  console.log(
    `per 100k live reservations: heapUsed +${mib(full.heap - empty.heap)}, typed arrays +${mib(full.buffers - empty.buffers)}` +
      ` (${Math.round((full.heap - empty.heap) / 100_000)} bytes each)`,
  );
  now = 2000;
  pool.expire(now);
  // 2000 ms lifetime / 0.02 ms per reservation = 100k live in steady state.
  const warm = steadyReserve(pool, 200_000, 0.02, now);
  const run = steadyReserve(pool, 1_000_000, 0.02, warm.now);
  console.log(`reserve, 2^20 addresses, ~${pool.stats.live} live: ${rate(1_000_000, run.ms)} (${run.refused} refused)`);
}

function smallPool(): void {
  const addresses = expandIpv4Range('198.51.100.0/24');
  const pool = new CircularPool({ addresses, lifetimeMs: 2000 });
  let now = 0;
  const n = 1_000_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    now += 0.01;
    const r = pool.reserve(REQUESTS[i & 63], now);
    if (r.ok) pool.consume({ dst: r.reservation.address, protocol: 6, port: r.reservation.key.port || 1234 }, now);
  }
  console.log(`reserve + consume, 256 addresses: ${rate(n, performance.now() - t0)} pairs`);
  for (let i = 0; i < 2000; i++) pool.reserve(REQUESTS[i & 63], now);
  const t1 = performance.now();
  for (let i = 0; i < n; i++) pool.reserve(REQUESTS[i & 63], now);
  console.log(`reserve on an exhausted 256-address pool (${pool.stats.live} live): ${rate(n, performance.now() - t1)} refusals`);
}

bigPool();
smallPool();
