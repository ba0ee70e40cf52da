/**
 * `npm run bench`: realmgw's DNS front against Knot DNS on loopback, with dnsperf; then the data plane in a
 * testbed of network namespaces (bench/flows-bench.ts: confirmed flows per second in each confirmation mode,
 * first-packet latency against a static DNAT rule), printed as a second table.
 *
 *   1. Knot reference: knotd serving zones/gwa.demo.zone, static records (NS/SOA/A of the zone file).
 *   2. realmgw static: the same zone file and the same query file.
 *   3. realmgw allocating: A queries for service names, each reserving a pool address (TTL 0 answers).
 *      Valid only if the admin API shows allocations and no exhausted / host-limited reservations.
 *   4. realmgw RSS: idle, then with exactly 100,000 live reservations (long lifetime).
 *
 * Everything listens on 127.0.0.1 on high ports picked here, in temp folders removed afterwards. Pool
 * addresses (10.128.0.0/14) are data in DNS answers only: nothing is ever sent to them. Every child
 * (knotd, realmgw, dnsperf) is killed on exit, on error and on SIGINT/SIGTERM/SIGHUP.
 *
 * Prints one markdown table per part. Exit status: 0 when every measurement ran (whatever the verdicts), 1
 * when one could not be run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './cpuprofile-top.js';
import { benchDataplane, DATAPLANE_MEASUREMENTS, type DataplaneSettings, type Row } from './flows-bench.js';
import { adminGet } from '../src/admin/admin-client.js';
import { encodeQuery } from './dns-query.js';
import { benchWorkers, WORKERS_HEADER, WORKERS_MEASUREMENTS, workersSettingsFromEnv } from './workers-bench.js';
import { ATTACK_HEADER, ATTACK_MEASUREMENTS, attackSettingsFromEnv, benchAttack } from './attack-bench.js';
import { benchProxy, PROXY_HEADER, PROXY_MEASUREMENTS } from './proxy-bench.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const ZONE_FILE = path.join(REPO_ROOT, 'zones', 'gwa.demo.zone');
const LOOPBACK = '127.0.0.1';

const DEFAULT_RATES = '250,500,750,1000,1500,2000,2500,3000,3500,4000,5000,6000';

const HELP = `dns-bench: realmgw's DNS front against Knot DNS on loopback (dnsperf), then its data plane in namespaces

Usage: node dist/bench/dns-bench.js [--only LIST] [--seconds N] [--warmup N] [--profile DIR] [data-plane options]
  --only LIST     comma list of knot,floor,static,alloc,rss,flows-nfqueue,flows-nftset,latency,
                  workers-register,workers-throughput,attack-phases,attack-alloc,proxy
                  (default all; env BENCH_ONLY)
  --seconds N     length of each measured dnsperf run (default 10; env BENCH_SECONDS)
  --warmup N      unmeasured dnsperf seconds before each measured run (default 2; env BENCH_WARMUP)
  --profile DIR   run realmgw under node --cpu-prof, keep the profiles in DIR, print the hot spots
                  (the numbers measured that way are lower than without; env BENCH_PROFILE)
  --summarize F   only print the hot spots of an existing .cpuprofile file
Data plane (flows-nfqueue, flows-nftset, latency):
  --flow-seconds N   measured seconds per offered-rate step (default 5; env BENCH_FLOW_SECONDS)
  --flow-warmup N    unmeasured seconds at the step's rate before its window (default 1; env BENCH_FLOW_WARMUP)
  --flow-rates LIST  offered rates to step through, flows/s (default ${DEFAULT_RATES}; env BENCH_FLOW_RATES)
  --flow-clients N   load client processes in the public namespace (default 2; env BENCH_FLOW_CLIENTS)
  --flow-names N     TCP service names (distinct ports) in the bench policy (default 16; env BENCH_FLOW_NAMES)
  --latency-flows N  pool flows (and as many static DNAT flows) per mode for latency (default 1000;
                     env BENCH_LATENCY_FLOWS)
  --flow-close WHO   client (default): the client closes first and keeps TIME_WAIT; server: the host closes
                     first, as test/support/flow-server does (env BENCH_FLOW_CLOSE)
Workers (workers-register, workers-throughput; environment only):
  BENCH_WORKERS (1000), BENCH_WORKER_PORTS (5), BENCH_WORKERS_CONCURRENCY (64): workers registering, TCP ports
  each, requests in flight; BENCH_THROUGHPUT_SECONDS (5), BENCH_THROUGHPUT_ROUNDS (5): bulk transfer length
  and lease/direct pairs
Attack (attack-phases, attack-alloc; environment only, see bench/attack-bench.ts):
  RGW_ATTACK_FLOWS (100), RGW_ATTACK_LEGIT_RATE (10), RGW_ATTACK_UDP_RATE (500), RGW_ATTACK_SYN_RATE (2000),
  RGW_ATTACK_AGGRESSIVE_RATE (200), RGW_ATTACK_ATTEMPTS (2), BENCH_ATTACK_PHASES (all four),
  BENCH_ATTACK_DEFENCES (on), BENCH_ATTACK_ALLOC_SECONDS (3), BENCH_ATTACK_ALLOC_ROUNDS (5)`;

/* ------------------------------------------------------------------------------------------------------------ */
/* Settings                                                                                                     */

interface Settings {
  only: Set<string>;
  seconds: number;
  warmup: number;
  profileDir?: string;
  dataplane: DataplaneSettings;
}

const DNS_MEASUREMENTS = ['knot', 'floor', 'static', 'alloc', 'rss'];
const ALL = [...DNS_MEASUREMENTS, ...DATAPLANE_MEASUREMENTS, ...WORKERS_MEASUREMENTS, ...ATTACK_MEASUREMENTS, ...PROXY_MEASUREMENTS];

function parseSettings(argv: string[]): Settings | { summarize: string } {
  const env = process.env;
  let only = env.BENCH_ONLY ?? ALL.join(',');
  let seconds = env.BENCH_SECONDS ?? '10';
  let warmup = env.BENCH_WARMUP ?? '2';
  let profileDir = env.BENCH_PROFILE || undefined;
  let flowSeconds = env.BENCH_FLOW_SECONDS ?? '5';
  let flowWarmup = env.BENCH_FLOW_WARMUP ?? '1';
  let flowRates = env.BENCH_FLOW_RATES ?? DEFAULT_RATES;
  let flowClients = env.BENCH_FLOW_CLIENTS ?? '2';
  let flowNames = env.BENCH_FLOW_NAMES ?? '16';
  let latencyFlows = env.BENCH_LATENCY_FLOWS ?? '1000';
  let flowClose = env.BENCH_FLOW_CLOSE ?? 'client';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--only') only = value();
    else if (a === '--seconds') seconds = value();
    else if (a === '--warmup') warmup = value();
    else if (a === '--profile') profileDir = value();
    else if (a === '--flow-seconds') flowSeconds = value();
    else if (a === '--flow-warmup') flowWarmup = value();
    else if (a === '--flow-rates') flowRates = value();
    else if (a === '--flow-clients') flowClients = value();
    else if (a === '--flow-names') flowNames = value();
    else if (a === '--latency-flows') latencyFlows = value();
    else if (a === '--flow-close') flowClose = value();
    else if (a === '--summarize') return { summarize: value() };
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    } else fail(`unknown argument ${a}\n\n${HELP}`);
  }
  const set = new Set(only.split(',').map((s) => s.trim()).filter(Boolean));
  for (const s of set) if (!ALL.includes(s)) fail(`--only: unknown measurement '${s}' (known: ${ALL.join(', ')})`);
  const n = Number(seconds);
  const w = Number(warmup);
  if (!Number.isInteger(n) || n < 1) fail(`--seconds must be a positive integer, not ${seconds}`);
  if (!Number.isInteger(w) || w < 0) fail(`--warmup must be an integer >= 0, not ${warmup}`);
  const int = (v: string, what: string, min: number, max: number) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min || x > max) fail(`${what} must be an integer in ${min}..${max}, not ${v}`);
    return x;
  };
  const rates = flowRates.split(',').map((r) => int(r.trim(), '--flow-rates (each)', 1, 1_000_000));
  for (let i = 1; i < rates.length; i++) if (rates[i] <= rates[i - 1]) fail(`--flow-rates must ascend: ${flowRates}`);
  if (flowClose !== 'client' && flowClose !== 'server') fail(`--flow-close must be client or server, not ${flowClose}`);
  const resolvedProfile = profileDir ? path.resolve(profileDir) : undefined;
  return {
    only: set,
    seconds: n,
    warmup: w,
    profileDir: resolvedProfile,
    dataplane: {
      only: set,
      flowSeconds: int(flowSeconds, '--flow-seconds', 1, 600),
      flowWarmup: int(flowWarmup, '--flow-warmup', 0, 600),
      rates,
      clients: int(flowClients, '--flow-clients', 1, 64),
      names: int(flowNames, '--flow-names', 2, 60),
      latencyFlows: int(latencyFlows, '--latency-flows', 1, 1_000_000),
      closeBy: flowClose,
      profileDir: resolvedProfile,
    },
  };
}

function fail(message: string): never {
  process.stderr.write(`dns-bench: ${message}\n`);
  process.exit(2);
}

function say(message: string): void {
  process.stderr.write(`dns-bench: ${message}\n`);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Children and temp folders: everything started is stopped, everything made is removed                        */

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];

function makeTempDir(tag: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `realmgw-bench-${tag}-`));
  tempDirs.push(dir);
  return dir;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function cleanupSync(): void {
  for (const child of children) {
    if (alive(child)) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
  for (const dir of tempDirs.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch (err) {
      process.stderr.write(`dns-bench: could not remove ${dir}: ${(err as Error).message}\n`);
    }
  }
}

process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    say(`${signal}: stopping every child and removing temp folders`);
    cleanupSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

interface Started {
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running child with stdout and stderr in `logFile`, registered for cleanup. */
function startChild(cmd: string, args: string[], logFile: string, cwd?: string): Started {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      children.delete(child);
      say(`${cmd}: ${err.message}`);
      resolve({ code: -1, signal: null });
    });
  });
  return { child, logFile, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. Returns true if it left by itself. */
async function stopChild(s: Started, graceMs = 10_000): Promise<boolean> {
  if (!alive(s.child)) return true;
  s.child.kill('SIGTERM');
  const timer = sleep(graceMs).then(() => 'timeout' as const);
  const r = await Promise.race([s.exited.then(() => 'exited' as const), timer]);
  if (r === 'exited') return true;
  s.child.kill('SIGKILL');
  await s.exited;
  return false;
}

function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a command to completion (dnsperf), killable by the cleanup; resolves with its output. */
function runToEnd(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', (err) => {
      children.delete(child);
      reject(new Error(`${cmd}: ${err.message}`));
    });
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Ports and a minimal DNS client                                                                               */

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const udp = dgram.createSocket('udp4');
    udp.once('error', () => resolve(false));
    udp.bind(port, LOOPBACK, () => {
      const tcp = net.createServer();
      tcp.once('error', () => udp.close(() => resolve(false)));
      tcp.listen(port, LOOPBACK, () => tcp.close(() => udp.close(() => resolve(true))));
    });
  });
}

/** A port free for both UDP and TCP on 127.0.0.1, below Linux's ephemeral range so clients never take it. */
async function pickPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canBind(port)) return port;
  }
  throw new Error('no free port found in 20000-31999 on 127.0.0.1');
}

const QTYPES: { [name: string]: number } = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, SRV: 33 };


interface ReplyHeader {
  id: number;
  rcode: number;
  ancount: number;
}

function replyHeader(buf: Buffer): ReplyHeader | undefined {
  if (buf.length < 12 || (buf[2] & 0x80) === 0) return undefined;
  return { id: buf.readUInt16BE(0), rcode: buf[3] & 0xf, ancount: buf.readUInt16BE(6) };
}

/** One UDP query; resolves with the reply header or undefined on timeout. */
function queryOnce(port: number, name: string, qtype: number, timeoutMs = 500): Promise<ReplyHeader | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const done = (r: ReplyHeader | undefined) => {
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('message', (msg) => {
      const h = replyHeader(msg);
      if (h && h.id === id) done(h);
    });
    sock.send(encodeQuery(id, name, qtype), port, LOOPBACK);
  });
}

/** Waits until the server on `port` answers `gwa.demo SOA` with NOERROR, or the child dies, or time runs out. */
async function waitForDns(s: Started, what: string, port: number, timeoutMs = 30_000, needAnswer = true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(s.child)) throw new Error(`${what} exited before answering (exit ${s.child.exitCode ?? s.child.signalCode}); log:\n${logTail(s.logFile)}`);
    const h = await queryOnce(port, 'gwa.demo', QTYPES.SOA);
    if (h && h.rcode === 0 && (h.ancount === 1 || !needAnswer)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not answer gwa.demo SOA on ${LOOPBACK}:${port} within ${timeoutMs} ms; log:\n${logTail(s.logFile)}`);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* dnsperf                                                                                                      */

interface PerfResult {
  command: string;
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  rcodes: { [rcode: string]: number };
}

function dnsperfArgs(port: number, queryFile: string, seconds: number): string[] {
  return ['-s', LOOPBACK, '-p', String(port), '-d', queryFile, '-l', String(seconds), '-c', '4', '-T', '1', '-q', '100'];
}

function parseDnsperf(out: string, command: string): PerfResult {
  const num = (re: RegExp, what: string): number => {
    const m = re.exec(out);
    if (!m) throw new Error(`dnsperf output has no "${what}":\n${out}`);
    return Number(m[1]);
  };
  const rcodes: { [rcode: string]: number } = {};
  const line = /Response codes:\s+(.*)/.exec(out);
  if (line) for (const m of line[1].matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]] = Number(m[2]);
  return {
    command,
    sent: num(/Queries sent:\s+(\d+)/, 'Queries sent'),
    completed: num(/Queries completed:\s+(\d+)/, 'Queries completed'),
    lost: num(/Queries lost:\s+(\d+)/, 'Queries lost'),
    qps: num(/Queries per second:\s+([\d.]+)/, 'Queries per second'),
    rcodes,
  };
}

async function dnsperf(port: number, queryFile: string, seconds: number): Promise<PerfResult> {
  const args = dnsperfArgs(port, queryFile, seconds);
  const command = `dnsperf ${args.join(' ')}`;
  const r = await runToEnd('dnsperf', args);
  if (r.code !== 0) throw new Error(`${command} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return parseDnsperf(r.stdout, command);
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** utime and stime of a process (all its threads), in clock ticks. */
function processTicks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) };
}

/** utime + stime of each thread of a process, by thread name (comm), in clock ticks. */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).trim();
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** Busy and total ticks of the whole machine. */
function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = cpu[3] + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuUse {
  /** The server's CPU time over the run, in % of one core; sysPct of it in the kernel. */
  serverPct: number;
  sysPct: number;
  /** The server's CPU by thread name ('main' = the event loop), % of one core, busiest first. */
  threads: [string, number][];
  /** Everything else on the machine (dnsperf, other sessions), in % of one core. */
  othersPct: number;
  cores: number;
}

function cpuMeter(pid: number): () => CpuUse {
  const p0 = processTicks(pid);
  const t0 = threadTicks(pid);
  const m0 = machineTicks();
  return () => {
    const p1 = processTicks(pid);
    const t1 = threadTicks(pid);
    const m1 = machineTicks();
    const cores = os.cpus().length;
    const elapsed = (m1.total - m0.total) / cores; // ticks of wall time
    const server = p1.user + p1.sys - p0.user - p0.sys;
    const busy = m1.busy - m0.busy;
    const threads = [...t1.entries()]
      .map(([name, ticks]): [string, number] => [name, (100 * (ticks - (t0.get(name) ?? 0))) / elapsed])
      .filter(([, pct]) => pct >= 0.5)
      .sort((a, b) => b[1] - a[1]);
    return { serverPct: (100 * server) / elapsed, sysPct: (100 * (p1.sys - p0.sys)) / elapsed, threads, othersPct: (100 * (busy - server)) / elapsed, cores };
  };
}

const fmtCpu = (c: CpuUse, qps?: number) =>
  `server ${c.serverPct.toFixed(0)}% of a core (${c.sysPct.toFixed(0)}% in the kernel; by thread: ${c.threads.map(([n, p]) => `${n} ${p.toFixed(0)}%`).join(', ')})` +
  (qps ? `, ${((c.serverPct / 100) * 1e6 / qps).toFixed(1)} CPU-µs per query` : '') +
  `; everything else (dnsperf, other processes) ${c.othersPct.toFixed(0)}% (of ${c.cores * 100}%)`;

/**
 * An unmeasured run first (JIT, caches, socket buffers), then the measured one. `window` receives the measured
 * run's span on the monotonic clock, to cut a CPU profile down to it.
 */
async function measure(
  server: Started,
  port: number,
  queryFile: string,
  s: Settings,
  before?: () => Promise<void>,
  window?: { fromUs: number; toUs: number },
): Promise<PerfResult & { cpu: CpuUse }> {
  if (s.warmup > 0) await dnsperf(port, queryFile, s.warmup);
  if (before) await before();
  const fromUs = monotonicUs();
  const meter = cpuMeter(server.child.pid!);
  const r = await dnsperf(port, queryFile, s.seconds);
  const cpu = meter();
  if (window) Object.assign(window, { fromUs, toUs: monotonicUs() });
  return { ...r, cpu };
}

function checkRcodes(r: PerfResult, what: string): string | undefined {
  const other = Object.entries(r.rcodes).filter(([k, v]) => k !== 'NOERROR' && v > 0);
  if (r.completed === 0) return `${what}: no query completed`;
  if (other.length) return `${what}: answers other than NOERROR (${other.map(([k, v]) => `${k} ${v}`).join(', ')})`;
  return undefined;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Knot                                                                                                         */

const STATIC_QUERIES = ['ns1.gwa.demo A', 'gw.gwa.demo A', 'gwa.demo SOA', 'gwa.demo NS'];

async function startKnot(dir: string, port: number): Promise<Started> {
  const run = path.join(dir, 'run');
  const storage = path.join(dir, 'storage');
  const zones = path.join(dir, 'zones');
  for (const d of [run, storage, zones]) mkdirSync(d, { recursive: true });
  copyFileSync(ZONE_FILE, path.join(zones, 'gwa.demo.zone'));
  const conf = path.join(dir, 'knot.conf');
  writeFileSync(
    conf,
    [
      'server:',
      `    rundir: "${run}"`,
      `    pidfile: "${path.join(run, 'knot.pid')}"`,
      `    listen: ${LOOPBACK}@${port}`,
      'log:',
      '  - target: stderr',
      '    any: warning',
      'database:',
      `    storage: "${storage}"`,
      'control:',
      `    listen: "${path.join(run, 'knot.sock')}"`,
      'template:',
      '  - id: default',
      `    storage: "${zones}"`,
      '    dnssec-signing: off',
      '    zonefile-sync: -1',
      '    journal-content: none',
      'zone:',
      '  - domain: gwa.demo',
      '    file: "gwa.demo.zone"',
      '',
    ].join('\n'),
  );
  const s = startChild('knotd', ['-c', conf], path.join(dir, 'knotd.log'));
  try {
    await waitForDns(s, 'knotd', port);
  } catch (err) {
    await stopChild(s, 2000);
    throw err;
  }
  return s;
}

function knotVersion(): string {
  const r = spawnSync('knotd', ['-V'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim().split('\n')[0] || 'knotd';
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The floor: one Node thread answering with dgram and no DNS work at all                                      */

/**
 * Echoes each query back with QR and AA set (an empty NOERROR answer), through the same dgram calls realmgw
 * uses. Whatever realmgw does beyond this costs QPS; this costs what no single-threaded Node server avoids.
 */
const FLOOR_SERVER = `
import dgram from 'node:dgram';
const [port] = process.argv.slice(2);
const sock = dgram.createSocket({ type: 'udp4' });
sock.on('message', (msg, rinfo) => {
  msg[2] |= 0x84;
  sock.send(msg, rinfo.port, rinfo.address);
});
sock.bind(Number(port), '${LOOPBACK}', () => {
  try { sock.setRecvBufferSize(4 * 1024 * 1024); } catch {}
});
process.on('SIGTERM', () => sock.close());
`;

async function benchFloor(s: Settings, queryFile: string): Promise<PerfResult & { cpu: CpuUse }> {
  const dir = makeTempDir('floor');
  const script = path.join(dir, 'floor.mjs');
  writeFileSync(script, FLOOR_SERVER);
  const port = await pickPort();
  const proc = startChild(process.execPath, [script, String(port)], path.join(dir, 'floor.log'));
  try {
    await waitForDns(proc, 'node dgram floor', port, 10_000, false);
    return await measure(proc, port, queryFile, s);
  } finally {
    await stopChild(proc, 2000);
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* realmgw                                                                                                      */

const BENCH_HOST = 'bench.gwa.demo';
const POOL_CIDR = '10.128.0.0/14'; // 262,144 addresses; data in answers only, never contacted
const POOL_SIZE = 1 << 18;
const SERVICE_ADDRESS = '100.64.1.130';
/** 16 service names whose (protocol, port) keys can never overlap, so one address holds up to 16 reservations. */
const SERVICES = Array.from({ length: 16 }, (_, i) => ({
  fqdn: `s${String(i).padStart(2, '0')}.${BENCH_HOST}`,
  protocol: i < 8 ? 6 : 17,
  port: 10000 + (i % 8),
}));
const ALLOC_QUERIES = SERVICES.map((s) => `${s.fqdn} A`);

function benchPolicy(): string {
  const lines = [
    '# realmgw benchmark subscriber: one host, service names with pairwise non-overlapping (protocol, port) keys.',
    `${BENCH_HOST}.:`,
    '    ID:',
    `        fqdn: ['${BENCH_HOST}.']`,
    "        ipv4: ['192.168.0.200']",
    '    CIRCULARPOOL: {max: 1000000}',
    '    SFQDN:',
    ...SERVICES.map((s) => `        - {fqdn: '${s.fqdn}.', proxy_required: false, carriergrade: false, protocol: ${s.protocol}, port: ${s.port}}`),
    '',
  ];
  return lines.join('\n');
}

interface Gateway {
  proc: Started;
  port: number;
  adminSocket: string;
  dir: string;
  profileName?: string;
  /** The measured run, for the CPU profile summary. */
  window?: { fromUs: number; toUs: number };
}

interface Stats {
  dns: { wan: { [k: string]: number } };
  pool: { reserved: number; consumed: number; expired: number; cancelled: number; exhausted: number; hostLimited: number; live: number; size: number };
}


const stats = (g: Gateway) => adminGet(g.adminSocket, '/stats') as Promise<Stats>;

async function startRealmgw(tag: string, lifetimeMs: number, s: Settings): Promise<Gateway> {
  const dir = makeTempDir(`rgw-${tag}`);
  const zones = path.join(dir, 'zones');
  const policies = path.join(dir, 'policies');
  mkdirSync(zones);
  mkdirSync(policies);
  copyFileSync(ZONE_FILE, path.join(zones, 'gwa.demo.zone'));
  writeFileSync(path.join(policies, 'bench.yaml'), benchPolicy());
  const port = await pickPort();
  const adminSocket = path.join(dir, 'admin.sock');
  const config = path.join(dir, 'realmgw.yaml');
  writeFileSync(
    config,
    [
      `# realmgw benchmark configuration (${tag})`,
      `zones: ${JSON.stringify(zones)}`,
      `policies: ${JSON.stringify(policies)}`,
      'dns:',
      '  wan:',
      `    listen: [{address: ${LOOPBACK}, port: ${port}}]`,
      // one dnsperf client asking the same names 50k times a second is exactly what RRL limits: these rows
      // measure serving capacity, so it is off here
      '    rrl: { enabled: false }',
      'pool:',
      `  serviceAddress: ${SERVICE_ADDRESS}`,
      `  addresses: ['${POOL_CIDR}']`,
      `  lifetimeMs: ${lifetimeMs}`,
      'admin:',
      `  socket: ${JSON.stringify(adminSocket)}`,
      'log:',
      '  level: warn',
      '',
    ].join('\n'),
  );
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: the build (npx tsc -p tsconfig.json) did not produce it`);
  const nodeArgs: string[] = [];
  let profileName: string | undefined;
  if (s.profileDir) {
    mkdirSync(s.profileDir, { recursive: true });
    profileName = `realmgw-${tag}-${process.pid}.cpuprofile`;
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', s.profileDir, '--cpu-prof-name', profileName);
  }
  const proc = startChild(process.execPath, [...nodeArgs, CLI, 'run', '--config', config], path.join(dir, 'realmgw.log'), REPO_ROOT);
  const g: Gateway = { proc, port, adminSocket, dir, profileName };
  try {
    await waitForDns(proc, 'realmgw', port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await stats(g);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`realmgw admin API on ${adminSocket} did not answer: ${(err as Error).message}`);
        await sleep(100);
      }
    }
  } catch (err) {
    await stopChild(proc, 2000);
    throw err;
  }
  return g;
}

async function stopRealmgw(g: Gateway, s: Settings): Promise<void> {
  const clean = await stopChild(g.proc);
  if (!clean) say(`realmgw did not stop within 10 s of SIGTERM and was killed${g.profileName ? ' (no CPU profile written)' : ''}`);
  if (s.profileDir && g.profileName) {
    const file = path.join(s.profileDir, g.profileName);
    if (existsSync(file)) {
      say(`CPU profile: ${file}`);
      const opts = { top: 25, focus: '/src/', window: g.window?.toUs ? g.window : undefined };
      process.stderr.write(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), opts) + '\n');
    }
  }
}

function vmRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * Sends exactly `count` A queries for `names` (round robin) with at most `window` outstanding; never retries,
 * so every query reaches the server at most once. Returns how many were answered with NOERROR and an answer,
 * answered otherwise, or never answered within `timeoutMs`.
 */
async function sendExactly(port: number, names: string[], count: number, window = 64, timeoutMs = 3000): Promise<{ ok: number; bad: number; lost: number; seconds: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, LOOPBACK, resolve));
  const packets = names.map((n) => encodeQuery(0, n, QTYPES.A));
  const inflight = new Map<number, number>(); // id -> sent at
  let sent = 0;
  let ok = 0;
  let bad = 0;
  let lost = 0;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(reaper);
      sock.close();
      resolve({ ok, bad, lost, seconds: (Date.now() - started) / 1000 });
    };
    const pump = () => {
      while (inflight.size < window && sent < count) {
        const id = sent & 0xffff;
        if (inflight.has(id)) break; // only after 65k consecutive losses
        const pkt = Buffer.from(packets[sent % packets.length]);
        pkt.writeUInt16BE(id, 0);
        inflight.set(id, Date.now());
        sent++;
        sock.send(pkt, port, LOOPBACK);
      }
      if (sent === count && inflight.size === 0) finish();
    };
    const reaper = setInterval(() => {
      const now = Date.now();
      for (const [id, at] of inflight) {
        if (now - at > timeoutMs) {
          inflight.delete(id);
          lost++;
        }
      }
      pump();
    }, 200);
    sock.on('error', (err) => {
      clearInterval(reaper);
      reject(err);
    });
    sock.on('message', (msg) => {
      const h = replyHeader(msg);
      if (!h || !inflight.has(h.id)) return;
      inflight.delete(h.id);
      if (h.rcode === 0 && h.ancount >= 1) ok++;
      else bad++;
      pump();
    });
    pump();
  });
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Measurements                                                                                                 */


const fmtQps = (q: number) => `${Math.round(q).toLocaleString('en-US')} qps`;
const fmtMiB = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const lostOf = (r: PerfResult) => `${r.lost.toLocaleString('en-US')} of ${r.sent.toLocaleString('en-US')}`;

function ratioRow(measurement: string, r: PerfResult, knotQps: number | undefined, target: number, invalid?: string): Row {
  const notes: string[] = [];
  const ratio = knotQps ? r.qps / knotQps : undefined;
  let verdict = ratio === undefined ? 'n/a (no Knot reference)' : ratio >= target ? 'PASS' : 'FAIL';
  if (invalid) {
    verdict = 'INVALID';
    notes.push(invalid);
  }
  return {
    measurement,
    value: fmtQps(r.qps),
    ratio: ratio === undefined ? '-' : ratio.toFixed(2),
    target: `≥ ${target.toFixed(2)}`,
    verdict,
    lost: lostOf(r),
    notes,
  };
}

function writeQueryFile(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function benchKnot(s: Settings, queryFile: string): Promise<PerfResult & { cpu: CpuUse }> {
  const dir = makeTempDir('knot');
  const port = await pickPort();
  say(`Knot: ${knotVersion()} on ${LOOPBACK}:${port}`);
  const knot = await startKnot(dir, port);
  try {
    const r = await measure(knot, port, queryFile, s);
    const problem = checkRcodes(r, 'Knot static');
    if (problem) throw new Error(problem);
    return r;
  } finally {
    await stopChild(knot, 5000);
  }
}

async function benchStatic(s: Settings, queryFile: string): Promise<{ r: PerfResult & { cpu: CpuUse }; invalid?: string }> {
  const g = await startRealmgw('static', 2000, s);
  say(`realmgw static on ${LOOPBACK}:${g.port}`);
  try {
    g.window = { fromUs: 0, toUs: 0 };
    const r = await measure(g.proc, g.port, queryFile, s, undefined, g.window);
    const after = await stats(g);
    if (!alive(g.proc.child)) throw new Error(`realmgw died during the run; log:\n${logTail(g.proc.logFile)}`);
    let invalid = checkRcodes(r, 'realmgw static');
    if (!invalid && after.pool.reserved !== 0) invalid = `static queries made ${after.pool.reserved} reservations`;
    return { r, invalid };
  } finally {
    await stopRealmgw(g, s);
  }
}

async function benchAlloc(s: Settings, queryFile: string): Promise<{ r: PerfResult & { cpu: CpuUse }; invalid?: string; note: string }> {
  const g = await startRealmgw('alloc', 2000, s);
  say(`realmgw allocating on ${LOOPBACK}:${g.port} (pool ${POOL_CIDR}, lifetime 2000 ms, ${SERVICES.length} keys)`);
  try {
    let before: Stats | undefined;
    g.window = { fromUs: 0, toUs: 0 };
    const r = await measure(
      g.proc,
      g.port,
      queryFile,
      s,
      async () => {
        before = await stats(g);
      },
      g.window,
    );
    const after = await stats(g);
    if (!alive(g.proc.child)) throw new Error(`realmgw died during the run; log:\n${logTail(g.proc.logFile)}`);
    const d = (k: keyof Stats['pool']) => after.pool[k] - before!.pool[k];
    const reserved = d('reserved');
    const exhausted = after.pool.exhausted; // over the whole life of the process, warm-up included
    const hostLimited = after.pool.hostLimited;
    const allocations = after.dns.wan.allocations - before!.dns.wan.allocations;
    const problems: string[] = [];
    const rc = checkRcodes(r, 'realmgw allocating');
    if (rc) problems.push(rc);
    if (reserved <= 0) problems.push('no reservation was made during the run');
    if (exhausted !== 0) problems.push(`pool exhausted ${exhausted} times`);
    if (hostLimited !== 0) problems.push(`host cap hit ${hostLimited} times`);
    // Every answered allocating query carried a fresh reservation; a lost query may have reserved too.
    if (reserved < r.completed || reserved > r.sent) problems.push(`reservations (${reserved}) do not match the queries answered (${r.completed}) / sent (${r.sent})`);
    const note =
      `admin /stats: ${reserved.toLocaleString('en-US')} reservations during the run (${allocations.toLocaleString('en-US')} allocating answers), ` +
      `exhausted ${exhausted}, hostLimited ${hostLimited}, live at end ${after.pool.live.toLocaleString('en-US')} of ${(after.pool.size * SERVICES.length).toLocaleString('en-US')} slots`;
    return { r, invalid: problems.length ? problems.join('; ') : undefined, note };
  } finally {
    await stopRealmgw(g, s);
  }
}

const RSS_RESERVATIONS = 100_000;

async function benchRss(s: Settings): Promise<{ idleKiB: number; loadedKiB: number; invalid?: string; note: string }> {
  const g = await startRealmgw('rss', 600_000, s);
  say(`realmgw RSS on ${LOOPBACK}:${g.port} (lifetime 600000 ms)`);
  try {
    const pid = g.proc.child.pid!;
    await sleep(2000);
    const idleKiB = vmRssKiB(pid);
    const sentAt = await stats(g);
    const r = await sendExactly(g.port, SERVICES.map((x) => x.fqdn), RSS_RESERVATIONS);
    await sleep(2000); // idle again: let the gateway settle before reading memory
    const after = await stats(g);
    const loadedKiB = vmRssKiB(pid);
    const problems: string[] = [];
    if (r.lost || r.bad) problems.push(`client: ${r.lost} unanswered, ${r.bad} answered without an address`);
    if (after.pool.live - sentAt.pool.live !== RSS_RESERVATIONS) problems.push(`live = ${after.pool.live}, expected ${RSS_RESERVATIONS}`);
    if (after.pool.exhausted || after.pool.hostLimited) problems.push(`exhausted ${after.pool.exhausted}, hostLimited ${after.pool.hostLimited}`);
    const note = `sent ${RSS_RESERVATIONS.toLocaleString('en-US')} queries in ${r.seconds.toFixed(1)} s (${r.ok} answered with an address); admin /stats live = ${after.pool.live.toLocaleString('en-US')}`;
    return { idleKiB, loadedKiB, invalid: problems.length ? problems.join('; ') : undefined, note };
  } finally {
    await stopRealmgw(g, s);
  }
}

/* ------------------------------------------------------------------------------------------------------------ */

const DNS_HEADER = ['| measurement | result | ratio vs Knot | target | verdict | dnsperf lost |', '|---|---:|---:|---:|---|---:|'];
const DATAPLANE_HEADER = ['| measurement | result | reference / added | target | verdict | failures |', '|---|---:|---:|---:|---|---:|'];

function printTable(rows: Row[], notes: string[], header = DNS_HEADER): void {
  const out: string[] = [...header];
  for (const r of rows) out.push(`| ${r.measurement} | ${r.value} | ${r.ratio} | ${r.target} | ${r.verdict} | ${r.lost} |`);
  const allNotes = [...rows.flatMap((r) => r.notes.map((n) => `${r.measurement}: ${n}`)), ...notes];
  if (allNotes.length) {
    out.push('');
    for (const n of allNotes) out.push(`- ${n}`);
  }
  process.stdout.write('\n' + out.join('\n') + '\n');
}

function errorRow(measurement: string, err: unknown): Row {
  return { measurement, value: 'ERROR', ratio: '-', target: '-', verdict: 'DID NOT RUN', lost: '-', notes: [(err as Error).message.split('\n')[0]] };
}

async function main(): Promise<number> {
  const parsed = parseSettings(process.argv.slice(2));
  if ('summarize' in parsed) {
    process.stdout.write(summarizeProfile(JSON.parse(readFileSync(parsed.summarize, 'utf8')), { top: 40, focus: '/src/' }) + '\n');
    return 0;
  }
  const s = parsed;
  const dnsSelected = DNS_MEASUREMENTS.some((m) => s.only.has(m));
  const dataplaneSelected = DATAPLANE_MEASUREMENTS.some((m) => s.only.has(m));
  const workersSelected = WORKERS_MEASUREMENTS.some((m) => s.only.has(m));
  const attackSelected = ATTACK_MEASUREMENTS.some((m) => s.only.has(m));
  let workersSettings: ReturnType<typeof workersSettingsFromEnv> | undefined;
  let attackSettings: ReturnType<typeof attackSettingsFromEnv> | undefined;
  try {
    // checked before any row runs: a typo must not surface after minutes of DNS measurements
    if (workersSelected) workersSettings = workersSettingsFromEnv(s.only, s.profileDir);
    if (attackSelected) attackSettings = attackSettingsFromEnv(s.only);
  } catch (err) {
    fail((err as Error).message);
  }
  if (!existsSync(ZONE_FILE)) throw new Error(`${ZONE_FILE} is missing`);
  const work = makeTempDir('queries');
  const staticFile = writeQueryFile(work, 'static.txt', STATIC_QUERIES);
  const allocFile = writeQueryFile(work, 'alloc.txt', ALLOC_QUERIES);
  const rows: Row[] = [];
  const notes: string[] = [];
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let failed = false;
  let knotQps: number | undefined;
  let command: string | undefined;
  const attempt = async (name: string, label: string, fn: () => Promise<void>) => {
    if (!s.only.has(name)) return;
    try {
      await fn();
    } catch (err) {
      failed = true;
      say(`${label} failed: ${(err as Error).message}`);
      rows.push(errorRow(label, err));
    }
  };

  await attempt('knot', 'Knot static (reference)', async () => {
    const r = await benchKnot(s, staticFile);
    knotQps = r.qps;
    command = r.command;
    rows.push({ measurement: `Knot static (${knotVersion()})`, value: fmtQps(r.qps), ratio: '1.00', target: 'reference', verdict: '-', lost: lostOf(r), notes: [`CPU: ${fmtCpu(r.cpu, r.qps)}`] });
  });
  await attempt('floor', 'Node dgram floor', async () => {
    const r = await benchFloor(s, staticFile);
    const ratio = knotQps ? (r.qps / knotQps).toFixed(2) : '-';
    rows.push({
      measurement: `Node ${process.versions.node.split('.')[0]} bare dgram responder (no DNS work: the ceiling for one Node thread)`,
      value: fmtQps(r.qps),
      ratio,
      target: 'context',
      verdict: '-',
      lost: lostOf(r),
      notes: [`CPU: ${fmtCpu(r.cpu, r.qps)}`],
    });
  });
  await attempt('static', 'realmgw static', async () => {
    const { r, invalid } = await benchStatic(s, staticFile);
    command ??= r.command;
    const row = ratioRow('realmgw static', r, knotQps, 0.5, invalid);
    row.notes.push(`CPU: ${fmtCpu(r.cpu, r.qps)}`);
    rows.push(row);
  });
  await attempt('alloc', 'realmgw allocating', async () => {
    const { r, invalid, note } = await benchAlloc(s, allocFile);
    command ??= r.command;
    const row = ratioRow('realmgw allocating (A, TTL 0, 1 reservation each)', r, knotQps, 0.35, invalid);
    row.notes.push(note, `CPU: ${fmtCpu(r.cpu, r.qps)}`);
    rows.push(row);
  });
  await attempt('rss', 'realmgw RSS', async () => {
    const { idleKiB, loadedKiB, invalid, note } = await benchRss(s);
    const perRes = ((loadedKiB - idleKiB) * 1024) / RSS_RESERVATIONS;
    rows.push({ measurement: 'realmgw RSS idle', value: fmtMiB(idleKiB), ratio: '-', target: '-', verdict: invalid ? 'INVALID' : '-', lost: '-', notes: [] });
    rows.push({
      measurement: `realmgw RSS, ${RSS_RESERVATIONS.toLocaleString('en-US')} live reservations`,
      value: `${fmtMiB(loadedKiB)} (+${fmtMiB(loadedKiB - idleKiB)}, ${Math.round(perRes)} B/reservation)`,
      ratio: '-',
      target: '-',
      verdict: invalid ? 'INVALID' : '-',
      lost: '0 (own client, no retries)',
      notes: invalid ? [invalid, note] : [note],
    });
  });

  const loadAfterDns = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let dataplane: Awaited<ReturnType<typeof benchDataplane>> | undefined;
  if (dataplaneSelected) {
    try {
      dataplane = await benchDataplane(s.dataplane);
      if (dataplane.failed) failed = true;
    } catch (err) {
      failed = true;
      say(`data plane failed: ${(err as Error).stack ?? String(err)}`);
      dataplane = { rows: DATAPLANE_MEASUREMENTS.filter((m) => s.only.has(m)).map((m) => errorRow(m, err)), notes: [], failed: true };
    }
  }

  let workers: Awaited<ReturnType<typeof benchWorkers>> | undefined;
  if (workersSettings) {
    try {
      workers = await benchWorkers(workersSettings);
      if (workers.failed) failed = true;
    } catch (err) {
      failed = true;
      say(`workers failed: ${(err as Error).stack ?? String(err)}`);
      workers = { rows: WORKERS_MEASUREMENTS.filter((m) => s.only.has(m)).map((m) => errorRow(m, err)), notes: [], failed: true };
    }
  }

  let attack: Awaited<ReturnType<typeof benchAttack>> | undefined;
  if (attackSettings) {
    try {
      attack = await benchAttack(attackSettings);
      if (attack.failed) failed = true;
    } catch (err) {
      failed = true;
      say(`attack failed: ${(err as Error).stack ?? String(err)}`);
      attack = { rows: ATTACK_MEASUREMENTS.filter((m) => s.only.has(m)).map((m) => errorRow(m, err)), notes: [], failed: true };
    }
  }

  let proxy: Awaited<ReturnType<typeof benchProxy>> | undefined;
  if (s.only.has('proxy')) {
    try {
      proxy = await benchProxy();
      if (proxy.failed) failed = true;
    } catch (err) {
      failed = true;
      say(`proxy failed: ${(err as Error).stack ?? String(err)}`);
      proxy = { rows: PROXY_MEASUREMENTS.map((m) => errorRow(m, err)), notes: [], failed: true };
    }
  }

  if (dnsSelected) {
    if (command) notes.push(`each run: \`${command.replace(/-p \d+/, '-p PORT').replace(/-d \S+/, '-d QUERIES')}\` after a ${s.warmup} s unmeasured warm-up`);
    notes.push(`static queries: ${STATIC_QUERIES.join(', ')}; allocating queries: A for ${SERVICES.length} service names (${SERVICES[0].fqdn} ...), pool ${POOL_CIDR} (${POOL_SIZE.toLocaleString('en-US')} addresses)`);
    notes.push(`machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}; load average before ${loadBefore}, after ${loadAfterDns}`);
    notes.push('dnsperf and the server share the machine: with 2 cores, anything else running (load average above ~1 before the start) lowers every number, realmgw (one thread) the most');
    if (s.profileDir) notes.push(`realmgw ran under --cpu-prof (profiles in ${s.profileDir}): its numbers are lower than without`);
    printTable(rows, notes);
  }
  if (dataplane) {
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const dpNotes = [...dataplane.notes];
    if (!dnsSelected) dpNotes.push(`node ${process.version}; load average before ${loadBefore}, after ${loadAfter}`);
    else dpNotes.push(`load average after the DNS rows ${loadAfterDns}, after the data plane ${loadAfter}`);
    printTable(dataplane.rows, dpNotes, DATAPLANE_HEADER);
  }
  if (workers) {
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    printTable(workers.rows, [...workers.notes, `node ${process.version}; load average before the first row ${loadBefore}, after the workers rows ${loadAfter}`], WORKERS_HEADER);
  }
  if (attack) {
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    printTable(attack.rows, [...attack.notes, `node ${process.version}; load average before the first row ${loadBefore}, after the attack rows ${loadAfter}`], ATTACK_HEADER);
  }
  if (proxy) {
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    printTable(proxy.rows, [...proxy.notes, `node ${process.version}; load average before the first row ${loadBefore}, after the proxy row ${loadAfter}`], PROXY_HEADER);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (err) => {
    say(`failed: ${(err as Error).stack ?? String(err)}`);
    cleanupSync();
    process.exit(1);
  },
);
