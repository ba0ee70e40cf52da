/**
 * Load client of the workers benchmark (bench/workers-bench.ts), run inside a testbed namespace:
 *
 *   ip netns exec <p>worker1 node dist/bench/workers-load.js JOB.json
 *
 * Prints one line "result <JSON>" and exits. Jobs:
 *
 *   register  every worker of the job registers its services over the real registration API, through
 *             WorkersApiClient (what `realmgw worker` uses: one connection per request, so the gateway maps to
 *             the connection's peer), with at most `concurrency` requests in flight. Timed from the moment the
 *             first request is started to the moment the last answer is in, here, on the monotonic clock.
 *   bulk      one TCP connection writing `chunkBytes` buffers as fast as the socket takes them for `seconds`,
 *             then a half-close; the sink (workers-sink.ts) answers with what it received and in how long.
 *   probe     one short connection per target (a few bytes, half-close, the sink's report): reachability and
 *             the peer address the worker saw.
 *
 * The job comes from a file, not argv, because a register job holds secrets.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { WorkersApiClient } from '../src/workers/api/client.js';
import type { Protocol } from '../src/workers/lease.js';
import type { SinkReport } from './workers-sink.js';

export interface RegisterJob {
  op: 'register';
  api: { address: string; port: number };
  workers: { name: string; secret: string }[];
  services: { port: number; protocol: Protocol }[];
  concurrency: number;
  timeoutMs: number;
}

export interface RegisteredLease {
  worker: string;
  port: number;
  protocol: Protocol;
  publicPort: number;
  /** the address the gateway maps to, as its answer says */
  address: string;
}

export interface RegisterResult {
  ok: number;
  failed: number;
  firstErrors: string[];
  /** first request started -> last answer in */
  ms: number;
  /** the same window on the monotonic clock, microseconds (for the gateway's CPU profile) */
  fromUs: number;
  toUs: number;
  /** per-request time, ms: median, 99th percentile, max */
  requestMs: { p50: number; p99: number; max: number };
  leases: RegisteredLease[];
}

export interface BulkJob {
  op: 'bulk';
  address: string;
  port: number;
  seconds: number;
  chunkBytes: number;
  timeoutMs: number;
}

export interface BulkResult {
  report: SinkReport;
  /** bytes the socket accepted from us */
  written: number;
}

export interface ProbeJob {
  op: 'probe';
  targets: { address: string; port: number }[];
  timeoutMs: number;
}

export type ProbeResult = { ok: true; report: SinkReport } | { ok: false; error: string };

type Job = RegisterJob | BulkJob | ProbeJob;

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

function quantile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function register(job: RegisterJob): Promise<RegisterResult> {
  const leases: RegisteredLease[] = [];
  const firstErrors: string[] = [];
  const times: number[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  const fromUs = monotonicUs();
  const t0 = performance.now();
  const lane = async () => {
    while (next < job.workers.length) {
      const w = job.workers[next++];
      const client = new WorkersApiClient({ address: job.api.address, port: job.api.port, worker: w.name, secret: w.secret, timeoutMs: job.timeoutMs });
      const started = performance.now();
      try {
        const body = await client.register(job.services);
        times.push(performance.now() - started);
        ok++;
        for (const l of body.leases) leases.push({ worker: w.name, port: l.port, protocol: l.protocol, publicPort: l.publicPort, address: body.address });
      } catch (err) {
        failed++;
        if (firstErrors.length < 5) firstErrors.push(`${w.name}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, job.concurrency) }, lane));
  const ms = performance.now() - t0;
  const toUs = monotonicUs();
  times.sort((a, b) => a - b);
  return { ok, failed, firstErrors, ms, fromUs, toUs, requestMs: { p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: times[times.length - 1] ?? NaN }, leases };
}

/** Connects, lets `feed` write, half-closes when it resolves, and resolves with the sink's report. */
function talk(address: string, port: number, timeoutMs: number, feed: (sock: net.Socket) => Promise<void>): Promise<SinkReport> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address, port, allowHalfOpen: true });
    let text = '';
    let timer = setTimeout(() => sock.destroy(new Error(`no connection to ${address}:${port} within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve(JSON.parse(text) as SinkReport);
      } catch {
        reject(new Error(`${address}:${port} answered ${JSON.stringify(text.slice(0, 80))}, not a sink report`));
      }
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      feed(sock).then(
        () => {
          // the sink answers once it has read everything: give it the time its share of the buffers takes
          timer = setTimeout(() => sock.destroy(new Error(`no report from ${address}:${port} within ${timeoutMs} ms of the end`)), timeoutMs);
          sock.end();
        },
        (err: Error) => sock.destroy(err),
      );
    });
  });
}

async function bulk(job: BulkJob): Promise<BulkResult> {
  const buf = Buffer.alloc(job.chunkBytes, 0x5a);
  let written = 0;
  const report = await talk(job.address, job.port, job.timeoutMs, (sock) => {
    const until = performance.now() + job.seconds * 1000;
    return new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      const pump = () => {
        while (performance.now() < until) {
          written += buf.length;
          if (!sock.write(buf)) {
            sock.once('drain', pump);
            return;
          }
        }
        resolve();
      };
      pump();
    });
  });
  return { report, written };
}

async function probe(job: ProbeJob): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const t of job.targets) {
    try {
      const report = await talk(t.address, t.port, job.timeoutMs, async (sock) => {
        sock.write('probe');
      });
      out.push({ ok: true, report });
    } catch (err) {
      out.push({ ok: false, error: (err as Error).message });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: workers-load.js JOB.json');
  const job = JSON.parse(readFileSync(file, 'utf8')) as Job;
  let result: unknown;
  if (job.op === 'register') result = await register(job);
  else if (job.op === 'bulk') result = await bulk(job);
  else if (job.op === 'probe') result = await probe(job);
  else throw new Error(`unknown job ${JSON.stringify((job as { op?: unknown }).op)}`);
  // a register result is a few hundred kB: exit only once the pipe has taken all of it
  await new Promise<void>((resolve) => process.stdout.write(`result ${JSON.stringify(result)}\n`, () => resolve()));
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`workers-load: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
