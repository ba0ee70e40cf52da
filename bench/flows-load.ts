/**
 * Load client of the data-plane benchmark (bench/flows-bench.ts), run inside the testbed's public namespace:
 *
 *   ip netns exec <p>public node dist/bench/flows-load.js '<job JSON>'
 *
 * Prints "ready" once its DNS socket is bound, waits for "go <epoch ms>" on stdin, starts at that instant,
 * prints one line "result <JSON>" and exits. Jobs:
 *
 *   rate     open loop: flow i is due at start + i / rate (warm-up first, then the measured window), started
 *            when due unless `concurrency` flows are already in flight (then as soon as one ends: that
 *            delay is the start lag). A flow: A query over UDP to the gateway (resolver-style: the same
 *            question again, with a new ID, after `dnsTimeoutMs` of silence, at most `dnsTries` times; an
 *            answer to any of its tries counts), then TCP connect to the answer, one request line, the
 *            server's reply (which must name the expected host and show the client's own address), close.
 *   latency  closed loop, one flow at a time: `count` flows to freshly reserved pool addresses (DNS first,
 *            not timed) interleaved with `count` flows to a static DNAT address (no DNS), alternating which
 *            goes first; for each, the TCP connect time (net.connect to 'connect': SYN out, SYN-ACK in).
 *
 * Only node builtins: the hot path parses DNS answers by hand.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { encodeQuery } from './dns-query.js';

export interface ServiceName {
  /** e.g. p5000.hosta.gwa.demo */
  name: string;
  port: number;
  /** the name the echo server in the host's namespace answers with (flow-server --name) */
  host: string;
}

interface DnsTarget {
  server: string;
  port: number;
}

export interface RateJob {
  op: 'rate';
  dns: DnsTarget;
  names: ServiceName[];
  /** first name used, so that several clients interleave over the names */
  nameOffset: number;
  /** flows per second, this client's share */
  rate: number;
  warmupMs: number;
  durationMs: number;
  concurrency: number;
  dnsTimeoutMs: number;
  dnsTries: number;
  ioTimeoutMs: number;
  /** the source address the servers must report (no SNAT on the way in) */
  clientAddress: string;
  closeBy: 'client' | 'server';
}

export interface LatencyJob {
  op: 'latency';
  dns: DnsTarget;
  names: ServiceName[];
  count: number;
  static: { address: string; port: number; host: string };
  /** pause between two flows */
  gapMs: number;
  dnsTimeoutMs: number;
  dnsTries: number;
  ioTimeoutMs: number;
  clientAddress: string;
  closeBy: 'client' | 'server';
}

export interface Dist {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface RateResult {
  op: 'rate';
  /** epoch ms at which the measured window began (start + warm-up) */
  windowStart: number;
  /** epoch ms at which the last measured flow ended (successfully or not) */
  lastEnd: number;
  /** flows of the whole run (warm-up included): every successful one consumed exactly one reservation */
  all: { flows: number; ok: number; failed: number };
  measured: {
    flows: number;
    ok: number;
    failed: number;
    failures: { [reason: string]: number };
    /** extra DNS tries (a try that went unanswered for dnsTimeoutMs) */
    dnsRetries: number;
    flowsRetried: number;
    /** start minus due time, ms */
    startLagMs: Dist;
    /** flows started more than 20 ms after they were due */
    lateStarts: number;
    dnsMs: Dist;
    connectUs: Dist;
    flowMs: Dist;
  };
  maxInFlight: number;
  firstErrors: string[];
}

export interface LatencyResult {
  op: 'latency';
  pool: { connectUs: number[]; failed: number; dnsRetries: number };
  static: { connectUs: number[]; failed: number };
  firstErrors: string[];
}

export function dist(values: number[]): Dist {
  if (values.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const v = Float64Array.from(values).sort();
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  let sum = 0;
  for (const x of v) sum += x;
  return { n: v.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: v[v.length - 1], mean: sum / v.length };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* DNS: one UDP socket, queries multiplexed by ID                                                               */


function skipName(msg: Buffer, o: number): number {
  for (;;) {
    const len = msg[o];
    if (len === undefined) throw new RangeError('name past the end');
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) return o + 2;
    o += len + 1;
  }
}

/** The first A record of an answer, as a dotted quad; '' when the reply carries none. */
function firstA(msg: Buffer): string {
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let o = 12;
  for (let i = 0; i < qd; i++) o = skipName(msg, o) + 4;
  for (let i = 0; i < an; i++) {
    o = skipName(msg, o);
    const type = msg.readUInt16BE(o);
    const rdlen = msg.readUInt16BE(o + 8);
    o += 10;
    if (type === 1 && rdlen === 4) return `${msg[o]}.${msg[o + 1]}.${msg[o + 2]}.${msg[o + 3]}`;
    o += rdlen;
  }
  return '';
}

interface PendingQuery {
  ids: number[];
  done: (address: string | undefined, tries: number) => void;
  tries: number;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

class Resolver {
  private readonly sock = dgram.createSocket('udp4');
  private readonly byId = new Map<number, PendingQuery>();
  private nextId = Math.floor(Math.random() * 65536);
  readonly errors: string[] = [];

  constructor(
    private readonly target: DnsTarget,
    private readonly timeoutMs: number,
    private readonly maxTries: number,
  ) {
    this.sock.on('message', (msg) => this.onMessage(msg));
    this.sock.on('error', (err) => this.errors.push(`dns socket: ${err.message}`));
  }

  bind(): Promise<void> {
    return new Promise((resolve) =>
      this.sock.bind(0, () => {
        try {
          this.sock.setRecvBufferSize(4 << 20);
        } catch {
          /* keep the default */
        }
        resolve();
      }),
    );
  }

  close(): void {
    this.sock.close();
  }

  /** Resolves with the address (undefined when every try went unanswered or the answer had no A) and the tries. */
  resolve(name: string): Promise<{ address?: string; tries: number }> {
    return new Promise((resolve) => {
      const q: PendingQuery = { ids: [], tries: 0, settled: false, done: (address, tries) => resolve({ address, tries }) };
      this.send(q, name);
    });
  }

  private send(q: PendingQuery, name: string): void {
    let id = this.nextId;
    // IDs in use belong to tries still waiting (each try keeps its ID until its flow settles)
    while (this.byId.has(id)) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    q.ids.push(id);
    q.tries++;
    this.byId.set(id, q);
    this.sock.send(encodeQuery(id, name), this.target.port, this.target.server);
    q.timer = setTimeout(() => {
      if (q.settled) return;
      if (q.tries >= this.maxTries) this.settle(q, undefined);
      else this.send(q, name);
    }, this.timeoutMs);
  }

  private settle(q: PendingQuery, address: string | undefined): void {
    if (q.settled) return;
    q.settled = true;
    clearTimeout(q.timer);
    for (const id of q.ids) this.byId.delete(id);
    q.done(address, q.tries);
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 12 || (msg[2] & 0x80) === 0) return;
    const q = this.byId.get(msg.readUInt16BE(0));
    if (!q) return;
    let address = '';
    try {
      if ((msg[3] & 0x0f) === 0) address = firstA(msg);
    } catch {
      address = '';
    }
    this.settle(q, address || undefined);
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* TCP: connect, one line, the reply, close                                                                     */

interface TcpOutcome {
  ok: boolean;
  /** SYN out to SYN-ACK in, as the 'connect' event sees it; µs */
  connectUs?: number;
  error?: string;
}

/**
 * closeBy 'client': after the reply line the client sends its FIN first and the flow ends when the server's FIN
 * has come back (the client keeps TIME_WAIT). 'server': the server closes after its reply (flow-server.ts of
 * the tests) and the flow ends at its FIN (the server keeps TIME_WAIT).
 */
function tcpExchange(address: string, port: number, payload: string, expect: string, timeoutMs: number, closeBy: 'client' | 'server'): Promise<TcpOutcome> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let connectUs: number | undefined;
    let reply = '';
    let replied = false;
    let settled = false;
    const sock = net.connect({ host: address, port, noDelay: true });
    const done = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, connectUs, error });
    };
    const timer = setTimeout(() => done(false, connectUs === undefined ? 'connect timeout' : replied ? 'close timeout' : 'reply timeout'), timeoutMs);
    sock.once('connect', () => {
      connectUs = Number(process.hrtime.bigint() - t0) / 1000;
      sock.write(payload + '\n');
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      reply += d;
      if (replied || !reply.includes('\n')) return;
      replied = true;
      if (!reply.startsWith(expect)) return done(false, 'wrong reply');
      if (closeBy === 'client') sock.end();
    });
    sock.once('end', () => {
      if (!replied) done(false, reply ? 'partial reply' : 'closed without reply');
      else if (closeBy === 'server') done(true);
    });
    // client close: our FIN went first, the server's came back ('end'), our side is closed
    sock.once('close', () => done(replied && closeBy === 'client', replied ? 'reset after reply' : 'closed without reply'));
    sock.once('error', (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
  });
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Jobs                                                                                                         */

async function runRate(job: RateJob, resolver: Resolver, t0: number): Promise<RateResult> {
  const period = 1000 / job.rate;
  const total = Math.max(1, Math.round(((job.warmupMs + job.durationMs) / 1000) * job.rate));
  const firstMeasured = Math.ceil(job.warmupMs / period - 1e-9);
  const windowStart = performance.timeOrigin + t0 + job.warmupMs;
  const firstErrors: string[] = [];
  const failures: { [reason: string]: number } = {};
  const lag: number[] = [];
  const dnsMs: number[] = [];
  const connectUs: number[] = [];
  const flowMs: number[] = [];
  let allOk = 0;
  let allFailed = 0;
  let mOk = 0;
  let mFailed = 0;
  let dnsRetries = 0;
  let flowsRetried = 0;
  let lateStarts = 0;
  let lastEnd = 0;
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let finished = 0;
  let timer: NodeJS.Timeout | undefined;
  const dueAt = (i: number) => t0 + i * period;

  return new Promise<RateResult>((resolveAll) => {
    const fail = (measured: boolean, reason: string, detail: string) => {
      allFailed++;
      if (measured) {
        mFailed++;
        failures[reason] = (failures[reason] ?? 0) + 1;
      }
      if (firstErrors.length < 10) firstErrors.push(detail);
    };
    const end = () => {
      inFlight--;
      finished++;
      if (finished === total) {
        clearTimeout(timer);
        resolveAll({
          op: 'rate',
          windowStart,
          lastEnd: performance.timeOrigin + lastEnd,
          all: { flows: total, ok: allOk, failed: allFailed },
          measured: {
            flows: total - firstMeasured,
            ok: mOk,
            failed: mFailed,
            failures,
            dnsRetries,
            flowsRetried,
            startLagMs: dist(lag),
            lateStarts,
            dnsMs: dist(dnsMs),
            connectUs: dist(connectUs),
            flowMs: dist(flowMs),
          },
          maxInFlight,
          firstErrors,
        });
      } else if (next < total) pump();
    };
    const flow = async (i: number) => {
      const measured = i >= firstMeasured;
      const start = performance.now();
      const startLag = start - dueAt(i);
      if (measured) {
        lag.push(startLag);
        if (startLag > 20) lateStarts++;
      }
      const svc = job.names[(job.nameOffset + i) % job.names.length];
      const r = await resolver.resolve(svc.name);
      const resolved = performance.now();
      if (measured) {
        dnsRetries += r.tries - 1;
        if (r.tries > 1) flowsRetried++;
        if (r.address) dnsMs.push(resolved - start);
      }
      if (!r.address) {
        fail(measured, 'no DNS answer', `${svc.name}: no answer after ${r.tries} tries`);
      } else {
        const t = await tcpExchange(r.address, svc.port, `f${i}`, `${svc.host} saw ${job.clientAddress}:`, job.ioTimeoutMs, job.closeBy);
        if (t.ok) {
          allOk++;
          if (measured) {
            mOk++;
            connectUs.push(t.connectUs!);
            flowMs.push(performance.now() - start);
          }
        } else fail(measured, t.error!, `${svc.name} -> ${r.address}:${svc.port}: ${t.error}`);
      }
      if (measured) lastEnd = Math.max(lastEnd, performance.now());
      end();
    };
    const pump = () => {
      clearTimeout(timer);
      timer = undefined;
      const now = performance.now();
      while (next < total && inFlight < job.concurrency && dueAt(next) <= now) {
        inFlight++;
        if (inFlight > maxInFlight) maxInFlight = inFlight;
        void flow(next++);
      }
      // blocked by the concurrency bound: the next flow to end calls pump()
      if (next < total && inFlight < job.concurrency) timer = setTimeout(pump, Math.max(0, dueAt(next) - performance.now()));
    };
    pump();
  });
}

async function runLatency(job: LatencyJob, resolver: Resolver): Promise<LatencyResult> {
  const out: LatencyResult = { op: 'latency', pool: { connectUs: [], failed: 0, dnsRetries: 0 }, static: { connectUs: [], failed: 0 }, firstErrors: [] };
  const err = (s: string) => out.firstErrors.length < 10 && out.firstErrors.push(s);
  const expect = (host: string) => `${host} saw ${job.clientAddress}:`;
  const pause = () => new Promise((r) => setTimeout(r, job.gapMs));
  for (let i = 0; i < job.count; i++) {
    const order = i % 2 === 0 ? (['static', 'pool'] as const) : (['pool', 'static'] as const);
    for (const which of order) {
      if (which === 'static') {
        const t = await tcpExchange(job.static.address, job.static.port, `s${i}`, expect(job.static.host), job.ioTimeoutMs, job.closeBy);
        if (t.ok) out.static.connectUs.push(t.connectUs!);
        else {
          out.static.failed++;
          err(`static ${job.static.address}:${job.static.port}: ${t.error}`);
        }
      } else {
        const svc = job.names[i % job.names.length];
        const r = await resolver.resolve(svc.name);
        out.pool.dnsRetries += r.tries - 1;
        if (!r.address) {
          out.pool.failed++;
          err(`${svc.name}: no DNS answer after ${r.tries} tries`);
        } else {
          const t = await tcpExchange(r.address, svc.port, `l${i}`, expect(svc.host), job.ioTimeoutMs, job.closeBy);
          if (t.ok) out.pool.connectUs.push(t.connectUs!);
          else {
            out.pool.failed++;
            err(`${svc.name} -> ${r.address}:${svc.port}: ${t.error}`);
          }
        }
      }
      await pause();
    }
  }
  return out;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as RateJob | LatencyJob;
  const resolver = new Resolver(job.dns, job.dnsTimeoutMs, job.dnsTries);
  await resolver.bind();
  process.stdout.write('ready\n');
  const rl = readline.createInterface({ input: process.stdin });
  const goAt = await new Promise<number>((resolve, reject) => {
    rl.once('line', (line) => {
      const m = /^go (\d+(?:\.\d+)?)$/.exec(line.trim());
      if (m) resolve(Number(m[1]));
      else reject(new Error(`expected "go <epoch ms>", got ${line}`));
    });
    rl.once('close', () => reject(new Error('stdin closed before "go"')));
  });
  rl.close();
  const wait = goAt - (performance.timeOrigin + performance.now());
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const t0 = performance.now();
  const result = job.op === 'rate' ? await runRate(job, resolver, t0) : await runLatency(job, resolver);
  if (resolver.errors.length) result.firstErrors.push(...resolver.errors.slice(0, 5));
  resolver.close();
  process.stdout.write(`result ${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`flows-load: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
