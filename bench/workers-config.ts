/**
 * Pure pieces of the workers benchmark: the bench's workers (names, secrets, hashes), the gateway config
 * derived from the demo's, and the small statistics the rows print.
 */
import path from 'node:path';
import { generateSecret, hashSecret } from '../src/workers/secret.js';

export interface BenchWorker {
  name: string;
  secret: string;
  secretHash: string;
}

type Json = { [k: string]: unknown };

/** `count` workers bw0001, bw0002, ... each with its own random secret and its hash. */
export function makeBenchWorkers(count: number, prefix = 'bw'): BenchWorker[] {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, i) => {
    const secret = generateSecret();
    return { name: `${prefix}${String(i + 1).padStart(width, '0')}`, secret, secretHash: hashSecret(secret) };
  });
}

export interface BenchGatewayOptions {
  /** the demo config's folder: its relative paths are resolved against it */
  demoDir: string;
  /** where the admin socket and the state file go (a fresh temp folder) */
  dir: string;
  workers: readonly BenchWorker[];
  ports: readonly [number, number];
  quota: number;
}

/**
 * The demo gateway config with the bench's workers: same listeners, data plane, STUN and private network, a
 * port range and quota sized for the run, heartbeats that cannot expire anyone during it, and a state file
 * and admin socket of its own.
 */
export function benchGatewayConfig(demo: Json, o: BenchGatewayOptions): Json {
  const workers = demo.workers as Json | undefined;
  if (!workers) throw new Error('the demo config has no workers section');
  return {
    ...demo,
    zones: path.resolve(o.demoDir, demo.zones as string),
    policies: path.resolve(o.demoDir, demo.policies as string),
    admin: { socket: path.join(o.dir, 'admin.sock') },
    log: { level: 'info' },
    workers: {
      ...workers,
      ports: [o.ports[0], o.ports[1]],
      quota: o.quota,
      heartbeatMs: 60_000,
      heartbeatTimeoutMs: 3_600_000,
      stateFile: path.join(o.dir, 'workers-state.json'),
      workers: o.workers.map((w) => ({ name: w.name, secretHash: w.secretHash })),
    },
  };
}

export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Gbit/s of `bytes` received in `ms`. */
export function gbitPerS(bytes: number, ms: number): number {
  return ms > 0 ? (bytes * 8) / (ms / 1000) / 1e9 : NaN;
}

/** `count` distinct random picks from `items` (all of them when there are fewer). */
export function pickRandom<T>(items: readonly T[], count: number, random: (n: number) => number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length) out.push(pool.splice(random(pool.length), 1)[0]);
  return out;
}
