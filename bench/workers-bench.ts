/**
 * The workers part of `npm run bench` (called by dns-bench.ts; rows workers-register, workers-throughput).
 *
 * Everything runs in one testbed of network namespaces built here (prefix rgwb<6 hex>-, removed on exit, on
 * error and on SIGINT/SIGTERM/SIGHUP by test/support/netns.ts): a real gateway (`realmgw run`, the demo
 * config with the bench's workers, nftables backend) in gwa, a TCP sink (workers-sink.ts) in worker1, load
 * clients (workers-load.ts) in worker1 and public. No packet leaves the namespaces.
 *
 * 1. workers-register: N workers (default 1,000, each its own secret) register K TCP services each (default 5)
 *    over the registration API from worker1, at most C requests in flight. Timed from the first request to the
 *    last answer. The gateway answers only after the kernel transaction holding the worker's mappings has
 *    committed (WorkersService: registry -> backend.apply -> state file -> answer), so at the last answer the
 *    kernel holds every mapping; this is then checked: the elements of `map ip realmgw_workers leases` in gwa
 *    are counted and compared with the answers one by one, and a few random leases are connected to from
 *    public (the sink must see the gateway's private address: FULL-NAT).
 * 2. workers-throughput: bulk TCP from public to the sink in worker1 through a lease (publicAddress:publicPort,
 *    DNAT + SNAT to the gateway's private address) against the same sink reached by plain routing (routes
 *    added for that run only: router -> 10.200.0.0/24 via gwa, worker1 -> public's network via gwa; removed
 *    afterwards), alternating which goes first, R rounds; medians compared. Both paths cross the same
 *    namespaces, the same gateway and its rules: the difference is the lease's NAT and per-packet accounting.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ADDR, Testbed, type NodeName, type NsProcess } from '../test/support/netns.js';
import { DEMO_CONFIG } from '../test/support/gateway.js';
import { CLI_PATH, DIST_DIR, makeTempDir } from '../test/support/repo.js';
import { adminGet } from '../src/admin/admin-client.js';
import type { WorkersView } from '../src/workers/api/view.js';
import { summarizeProfile } from './cpuprofile-top.js';
import type { Row } from './flows-bench.js';
import { cpuMeter, formatCpu, type CpuSample } from './proc-cpu.js';
import { benchGatewayConfig, gbitPerS, makeBenchWorkers, median, pickRandom, type BenchWorker } from './workers-config.js';
import type { BulkJob, BulkResult, ProbeJob, ProbeResult, RegisterJob, RegisterResult, RegisteredLease } from './workers-load.js';

export const WORKERS_MEASUREMENTS = ['workers-register', 'workers-throughput'] as const;
export const WORKERS_HEADER = ['| measurement | result | ratio / reference | target | verdict | failures |', '|---|---:|---:|---:|---|---:|'];

export interface WorkersSettings {
  only: Set<string>;
  /** workers registering in workers-register */
  workers: number;
  /** TCP services each of them declares */
  portsPerWorker: number;
  /** registration requests in flight at most */
  concurrency: number;
  /** seconds of each bulk transfer */
  throughputSeconds: number;
  /** lease + direct pairs */
  throughputRounds: number;
  profileDir?: string;
}

/** Reads the workers rows' knobs from the environment (BENCH_WORKERS_*), with the defaults the issue asks for. */
export function workersSettingsFromEnv(only: Set<string>, profileDir: string | undefined, env = process.env): WorkersSettings {
  const int = (name: string, def: number, min: number, max: number) => {
    const raw = env[name];
    const x = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(x) || x < min || x > max) throw new Error(`${name} must be an integer in ${min}..${max}, not ${raw}`);
    return x;
  };
  return {
    only,
    workers: int('BENCH_WORKERS', 1000, 1, 5000),
    portsPerWorker: int('BENCH_WORKER_PORTS', 5, 1, 8),
    concurrency: int('BENCH_WORKERS_CONCURRENCY', 64, 1, 1000),
    throughputSeconds: int('BENCH_THROUGHPUT_SECONDS', 5, 1, 120),
    throughputRounds: int('BENCH_THROUGHPUT_ROUNDS', 5, 1, 20),
    profileDir,
  };
}

const TARGET_REGISTER_MS = 2000;
const TARGET_THROUGHPUT_RATIO = 0.9;
const TABLE = 'realmgw_workers';
/** The ports the bench's workers export (the sink listens on all of them), and the bulk service's. */
const FIRST_SERVICE_PORT = 11001;
const BULK_PORT = 15001;
/** Public ports: 10,000 per protocol, twice the 5,000 leases of the default run; below the ephemeral range. */
const LEASE_PORTS = [20000, 29999] as const;
const PROBES = 5;
const CHUNK_BYTES = 256 * 1024;
const API = { address: ADDR.gwaPrivate, port: 4780 };
const LOAD_JS = path.join(DIST_DIR, 'bench', 'workers-load.js');
const SINK_JS = path.join(DIST_DIR, 'bench', 'workers-sink.js');

function say(message: string): void {
  process.stderr.write(`workers-bench: ${message}\n`);
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtGbit = (g: number) => `${g.toFixed(2)} Gbit/s`;

/* ------------------------------------------------------------------------------------------------------------ */
/* Gateway, sink, load                                                                                          */

interface BenchGateway {
  proc: NsProcess;
  adminSocket: string;
  stateFile: string;
  profileFile?: string;
}

async function startGateway(tb: Testbed, tag: string, workers: readonly BenchWorker[], quota: number, s: WorkersSettings): Promise<BenchGateway> {
  const demo = parse(readFileSync(DEMO_CONFIG, 'utf8')) as { [k: string]: unknown };
  const dir = await makeTempDir(`bench-workers-${tag}`);
  const config = benchGatewayConfig(demo, { demoDir: path.dirname(DEMO_CONFIG), dir, workers, ports: LEASE_PORTS, quota });
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, `# realmgw workers benchmark (${tag}): the demo config with ${workers.length} bench workers\n${stringify(config)}`);
  const nodeArgs: string[] = [];
  let profileFile: string | undefined;
  if (s.profileDir) {
    const name = `realmgw-workers-${tag}-${process.pid}.cpuprofile`;
    profileFile = path.join(s.profileDir, name);
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', s.profileDir, '--cpu-prof-name', name);
  }
  const proc = tb.spawn('gwa', process.execPath, [...nodeArgs, CLI_PATH, 'run', '--config', file]);
  await proc.ready('realmgw running', 30_000);
  const workersSection = config.workers as { stateFile: string };
  return { proc, adminSocket: (config.admin as { socket: string }).socket, stateFile: workersSection.stateFile, profileFile };
}

/**
 * SIGTERM; the gateway should leave by itself and take its table with it. What went wrong is reported, not
 * thrown: the measurement was taken before, and the testbed's removal takes a leftover table with it.
 */
async function stopGateway(tb: Testbed, g: BenchGateway): Promise<string[]> {
  const problems: string[] = [];
  const exit = await g.proc.stop('SIGTERM', 20_000);
  if (exit.signal === 'SIGTERM') {
    // realmgw's handler is process.once('SIGTERM'); when execa's signal-exit hook was loaded after it (a child
    // such as the counters' `nft -j list table` running at that moment), that hook sees itself as the only
    // listener left and re-raises the signal: the process dies before stop() runs.
    const said = g.proc.lines.some((l) => l.text.includes('"msg":"stopping"'));
    problems.push(
      `the gateway died of SIGTERM${said ? ' after logging "stopping"' : ''} instead of stopping (src/cli/main.ts's process.once('SIGTERM') ` +
        `and execa's signal-exit hook); its table went with the testbed`,
    );
  } else if (exit.code !== 0) problems.push(`the gateway exited ${exit.signal ?? exit.code}: ${g.proc.tail(3)}`);
  else {
    const tables = await tb.exec('gwa', 'nft', ['list', 'tables']);
    if (tables.stdout.includes(TABLE)) problems.push(`table ip ${TABLE} still in the kernel after the gateway stopped`);
  }
  return problems;
}

async function writeJob(tag: string, job: RegisterJob | BulkJob | ProbeJob): Promise<string> {
  const file = path.join(await makeTempDir(`bench-workers-job-${tag}`), 'job.json');
  writeFileSync(file, JSON.stringify(job), { mode: 0o600 });
  return file;
}

/** Runs a workers-load job in `node`; resolves with its result and the CPU used meanwhile. */
async function load<T>(tb: Testbed, node: NodeName, job: RegisterJob | BulkJob | ProbeJob, timeoutMs: number, watch: { label: string; pid: number }[] = []): Promise<{ result: T; cpu: CpuSample }> {
  const file = await writeJob(job.op, job);
  const proc = tb.spawn(node, process.execPath, [LOAD_JS, file]);
  const meter = cpuMeter([...watch, { label: `load (${node})`, pid: proc.pid! }]);
  try {
    const line = await proc.ready(/^result /, timeoutMs);
    const cpu = meter();
    return { result: JSON.parse(line.slice('result '.length)) as T, cpu };
  } finally {
    await proc.stop('SIGTERM', 2000);
  }
}

/** Elements of the leases map in gwa, as `tcp/20001 -> 10.200.0.11:11001`, and how long the listing took. */
async function kernelLeases(tb: Testbed): Promise<{ elements: Set<string>; ms: number }> {
  const t0 = performance.now();
  const r = await tb.exec('gwa', 'nft', ['-j', 'list', 'map', 'ip', TABLE, 'leases'], { check: true, timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  const doc = JSON.parse(r.stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
  const elems = doc.nftables.find((x) => x.map)?.map?.elem ?? [];
  const elements = new Set<string>();
  for (const e of elems) {
    // [{concat: [proto, port]}, {concat: [address, port]}]
    const [k, v] = e as [{ concat: [string, number] }, { concat: [string, number] }];
    elements.add(`${k.concat[0]}/${k.concat[1]} -> ${v.concat[0]}:${v.concat[1]}`);
  }
  return { elements, ms };
}

const leaseElement = (l: RegisteredLease) => `${l.protocol}/${l.publicPort} -> ${l.address}:${l.port}`;

async function probeLeases(tb: Testbed, leases: readonly RegisteredLease[]): Promise<{ ok: number; problems: string[] }> {
  const job: ProbeJob = { op: 'probe', targets: leases.map((l) => ({ address: ADDR.gwaWan, port: l.publicPort })), timeoutMs: 5000 };
  const { result } = await load<ProbeResult[]>(tb, 'public', job, 60_000);
  const problems: string[] = [];
  result.forEach((r, i) => {
    const l = leases[i];
    if (!r.ok) problems.push(`${ADDR.gwaWan}:${l.publicPort}: ${r.error}`);
    else if (r.report.peer !== ADDR.gwaPrivate || r.report.localPort !== l.port) {
      problems.push(`${ADDR.gwaWan}:${l.publicPort} reached port ${r.report.localPort} from ${r.report.peer}, expected port ${l.port} from ${ADDR.gwaPrivate}`);
    }
  });
  return { ok: result.length - problems.length, problems };
}

function profileSummary(g: BenchGateway, window?: { fromUs: number; toUs: number }): string | undefined {
  if (!g.profileFile || !existsSync(g.profileFile)) return undefined;
  return summarizeProfile(JSON.parse(readFileSync(g.profileFile, 'utf8')), { top: 25, focus: '/src/', window });
}

/* ------------------------------------------------------------------------------------------------------------ */
/* 1. Registration of N workers x K ports                                                                       */

async function registerRow(tb: Testbed, s: WorkersSettings): Promise<Row> {
  const label = `register ${fmtInt(s.workers)} workers x ${s.portsPerWorker} ports, every mapping installed (nftables backend)`;
  const workers = makeBenchWorkers(s.workers);
  const services = Array.from({ length: s.portsPerWorker }, (_, i) => ({ port: FIRST_SERVICE_PORT + i, protocol: 'tcp' as const }));
  const g = await startGateway(tb, 'register', workers, s.portsPerWorker, s);
  let register!: RegisterResult;
  let cpu: CpuSample;
  const problems: string[] = [];
  const stopProblems: string[] = [];
  const notes: string[] = [];
  try {
    const before = await kernelLeases(tb);
    if (before.elements.size !== 0) throw new Error(`the leases map holds ${before.elements.size} elements before the run`);
    say(`register: ${fmtInt(s.workers)} workers x ${s.portsPerWorker} TCP ports from worker1, ${s.concurrency} requests in flight`);
    const job: RegisterJob = { op: 'register', api: API, workers: workers.map((w) => ({ name: w.name, secret: w.secret })), services, concurrency: s.concurrency, timeoutMs: 30_000 };
    const watch = [
      { label: 'gateway', pid: g.proc.pid! },
      { label: 'bench (reads the gateway log)', pid: process.pid },
    ];
    ({ result: register, cpu } = await load<RegisterResult>(tb, 'worker1', job, 300_000, watch));
    say(`register: ${register.ok} ok, ${register.failed} failed in ${register.ms.toFixed(0)} ms`);
    if (register.failed) problems.push(`${register.failed} registrations failed: ${register.firstErrors.join(' | ')}`);
    const expected = new Set(register.leases.map(leaseElement));
    if (register.leases.length !== s.workers * s.portsPerWorker) problems.push(`the answers hold ${register.leases.length} leases, expected ${s.workers * s.portsPerWorker}`);
    if (register.leases.some((l) => l.address !== ADDR.worker1Private)) problems.push(`a lease maps to another address than the registrations' peer ${ADDR.worker1Private}`);
    // Every answer came after its kernel transaction: the kernel must hold exactly what was answered.
    const kernel = await kernelLeases(tb);
    const missing = [...expected].filter((e) => !kernel.elements.has(e));
    const extra = [...kernel.elements].filter((e) => !expected.has(e));
    if (missing.length || extra.length) problems.push(`kernel map differs from the answers: ${missing.length} missing (${missing.slice(0, 3).join(', ')}), ${extra.length} extra`);
    notes.push(
      `kernel check after the last answer: nft -j list map ip ${TABLE} leases in gwa holds ${fmtInt(kernel.elements.size)} elements, ` +
        `${missing.length || extra.length ? 'NOT ' : ''}exactly the ${fmtInt(expected.size)} leases answered (listing took ${kernel.ms.toFixed(0)} ms, not part of the time)`,
    );
    const sample = pickRandom(register.leases, PROBES, (n) => randomInt(n));
    const probe = await probeLeases(tb, sample);
    problems.push(...probe.problems);
    notes.push(
      `forwarding check: ${probe.ok} of ${sample.length} random leases (${sample.map((l) => `${l.publicPort}->${l.port}`).join(', ')}) carried a TCP connection from public to the sink in worker1, which saw ${ADDR.gwaPrivate} (FULL-NAT)`,
    );
    const view = (await adminGet(g.adminSocket, '/workers')) as WorkersView;
    const viewLeases = view.workers.reduce((a, w) => a + w.leases.length, 0);
    if (view.workers.length !== s.workers || viewLeases !== s.workers * s.portsPerWorker) problems.push(`admin /workers shows ${view.workers.length} workers, ${viewLeases} leases`);
    notes.push(
      `${fmtInt(register.ok / (register.ms / 1000))} registrations/s (${fmtInt((register.ok * s.portsPerWorker) / (register.ms / 1000))} mappings/s); per request (connect, HTTP, registry, nft transaction, state file): ` +
        `median ${register.requestMs.p50.toFixed(1)} ms, p99 ${register.requestMs.p99.toFixed(1)} ms, max ${register.requestMs.max.toFixed(1)} ms with ${s.concurrency} in flight`,
    );
    notes.push(`CPU during the registrations: ${formatCpu(cpu)}`);
    notes.push(`state file after the run: ${fmtInt(statSync(g.stateFile).size)} bytes; admin /workers: ${view.workers.length} workers, ${fmtInt(viewLeases)} leases`);
  } finally {
    stopProblems.push(...(await stopGateway(tb, g)));
  }
  const summary = profileSummary(g, { fromUs: register.fromUs, toUs: register.toUs });
  if (summary) {
    say(`register: gateway CPU profile during the registrations (${g.profileFile}):`);
    process.stderr.write(summary + '\n');
    notes.push(`the gateway ran under node --cpu-prof (slower than without): ${g.profileFile}`);
  }
  const pass = register.ms < TARGET_REGISTER_MS;
  return {
    measurement: label,
    value: `${(register.ms / 1000).toFixed(2)} s`,
    ratio: '-',
    target: `< ${TARGET_REGISTER_MS / 1000} s`,
    verdict: problems.length ? 'INVALID' : pass ? 'PASS' : 'FAIL',
    lost: `${register.failed} of ${fmtInt(s.workers)}`,
    notes: [
      ...problems.map((p) => `problem: ${p}`),
      ...notes,
      ...(!pass && !summary ? ['BENCH_PROFILE=DIR runs the gateway under node --cpu-prof and prints where its time goes during the registrations'] : []),
      ...stopProblems.map((p) => `after the measurement: ${p}`),
    ],
  };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* 2. Forwarded TCP throughput: lease vs direct routing                                                         */

type Path = 'lease' | 'direct';

interface Transfer {
  path: Path;
  gbit: number;
  bytes: number;
  ms: number;
  cpu: CpuSample;
}

/**
 * Plain routing from public to worker1's private address, for the duration of `fn` only: the router sends
 * 10.200.0.0/24 to gwa, worker1 sends public's network back through gwa instead of its NAT router.
 */
async function withDirectRoutes<T>(tb: Testbed, fn: () => Promise<T>): Promise<T> {
  const routes: [NodeName, string[]][] = [
    ['router', ['10.200.0.0/24', 'via', ADDR.gwaWan, 'dev', 'gw0']],
    ['worker1', ['100.64.0.0/24', 'via', ADDR.gwaPrivate, 'dev', 'priv0']],
  ];
  const added: [NodeName, string[]][] = [];
  try {
    for (const [node, spec] of routes) {
      await tb.exec(node, 'ip', ['route', 'add', ...spec], { check: true });
      added.push([node, spec]);
    }
    return await fn();
  } finally {
    for (const [node, spec] of added.reverse()) {
      const r = await tb.exec(node, 'ip', ['route', 'del', ...spec]);
      if (r.code !== 0) say(`could not remove the route ${spec.join(' ')} in ${node}: ${r.stderr.trim()}`);
    }
  }
}

async function transfer(tb: Testbed, pathName: Path, port: number, s: WorkersSettings, sink: NsProcess): Promise<Transfer> {
  const address = pathName === 'lease' ? ADDR.gwaWan : ADDR.worker1Private;
  const job: BulkJob = { op: 'bulk', address, port, seconds: s.throughputSeconds, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000 };
  const { result, cpu } = await load<BulkResult>(tb, 'public', job, (s.throughputSeconds + 30) * 1000, [{ label: 'sink (worker1)', pid: sink.pid! }]);
  const expectedPeer = pathName === 'lease' ? ADDR.gwaPrivate : ADDR.public;
  if (result.report.peer !== expectedPeer) throw new Error(`${pathName}: the sink saw ${result.report.peer}, expected ${expectedPeer}: not the path meant`);
  if (result.report.bytes !== result.written) throw new Error(`${pathName}: the sink received ${result.report.bytes} bytes, the client wrote ${result.written}`);
  const gbit = gbitPerS(result.report.bytes, result.report.ms);
  say(`throughput ${pathName}: ${fmtGbit(gbit)} (${fmtInt(result.report.bytes / 1e6)} MB in ${result.report.ms.toFixed(0)} ms)`);
  return { path: pathName, gbit, bytes: result.report.bytes, ms: result.report.ms, cpu };
}

/** Bytes the lease's traffic_in counter saw (packets toward the worker): the lease run's bytes went through NAT. */
async function leaseBytesIn(tb: Testbed, publicPort: number): Promise<number> {
  const r = await tb.exec('gwa', 'nft', ['list', 'set', 'ip', TABLE, 'traffic_in'], { check: true });
  const m = new RegExp(`tcp \\. ${publicPort} counter packets \\d+ bytes (\\d+)`).exec(r.stdout);
  return m ? Number(m[1]) : NaN;
}

async function throughputRows(tb: Testbed, sink: NsProcess, s: WorkersSettings): Promise<Row[]> {
  const [worker] = makeBenchWorkers(1, 'bulk');
  const g = await startGateway(tb, 'throughput', [worker], 1, s);
  const runs: Transfer[] = [];
  /** lease / direct of each round: both measured back to back, so a slow drift of the machine cancels out */
  const roundRatios: number[] = [];
  const problems: string[] = [];
  const stopProblems: string[] = [];
  let counted = NaN;
  try {
    const job: RegisterJob = { op: 'register', api: API, workers: [{ name: worker.name, secret: worker.secret }], services: [{ port: BULK_PORT, protocol: 'tcp' }], concurrency: 1, timeoutMs: 10_000 };
    const { result } = await load<RegisterResult>(tb, 'worker1', job, 60_000);
    if (result.ok !== 1) throw new Error(`the bulk worker could not register: ${result.firstErrors.join(' | ')}`);
    const lease = result.leases[0];
    say(`throughput: lease ${ADDR.gwaWan}:${lease.publicPort} -> ${lease.address}:${lease.port}; ${s.throughputRounds} rounds of ${s.throughputSeconds} s per path`);
    const probe = await probeLeases(tb, [lease]);
    if (probe.problems.length) throw new Error(`the lease does not forward: ${probe.problems.join('; ')}`);
    await tb.exec('gwa', 'conntrack', ['-F'], { timeoutMs: 30_000 });
    for (let round = 0; round < s.throughputRounds; round++) {
      // ABBA order: a drift of the machine's load over the run weighs on both paths alike
      const order: Path[] = round % 2 === 0 ? ['lease', 'direct'] : ['direct', 'lease'];
      const pair = new Map<Path, number>();
      for (const p of order) {
        const t = p === 'lease' ? await transfer(tb, 'lease', lease.publicPort, s, sink) : await withDirectRoutes(tb, () => transfer(tb, 'direct', BULK_PORT, s, sink));
        runs.push(t);
        pair.set(p, t.gbit);
      }
      roundRatios.push(pair.get('lease')! / pair.get('direct')!);
    }
    counted = await leaseBytesIn(tb, lease.publicPort);
    const sent = runs.filter((r) => r.path === 'lease').reduce((a, r) => a + r.bytes, 0);
    if (!(counted >= sent)) problems.push(`the lease's traffic_in counter saw ${counted} bytes, less than the ${sent} payload bytes of the lease runs`);
  } finally {
    stopProblems.push(...(await stopGateway(tb, g)));
  }
  const summary = profileSummary(g);
  if (summary) say(`throughput: gateway CPU profile (not on the packet path; for completeness):\n${summary}`);
  const of = (p: Path) => runs.filter((r) => r.path === p);
  const lease = median(of('lease').map((r) => r.gbit));
  const direct = median(of('direct').map((r) => r.gbit));
  const ratio = lease / direct;
  // per run, what else the machine did: a slow run with idle CPU or busy strangers is noise, not the lease
  const brief = (r: Transfer) => {
    const m = r.cpu.machine;
    const others = Math.max(0, m.user + m.system - r.cpu.processes.reduce((a, p) => a + p.pct, 0));
    return `${r.gbit.toFixed(2)} (machine idle ${m.idle.toFixed(0)}%, other processes ${others.toFixed(0)}%)`;
  };
  const list = (p: Path) => of(p).map(brief).join(', ');
  const cpuOf = (p: Path) => {
    const sorted = [...of(p)].sort((a, b) => a.gbit - b.gbit);
    return formatCpu(sorted[(sorted.length - 1) >> 1].cpu);
  };
  const invalid = problems.length > 0;
  return [
    {
      measurement: 'forwarded TCP throughput, direct routing public -> worker1 via gwa (reference, no NAT)',
      value: fmtGbit(direct),
      ratio: 'reference',
      target: '-',
      verdict: invalid ? 'INVALID' : '-',
      lost: '0',
      notes: [`runs in order, Gbit/s: ${list('direct')}; CPU of the median run: ${cpuOf('direct')}`],
    },
    {
      measurement: 'forwarded TCP throughput through a lease (nftables DNAT + FULL-NAT SNAT, per-lease counters)',
      value: fmtGbit(lease),
      ratio: `${ratio.toFixed(2)}x`,
      target: `≥ ${TARGET_THROUGHPUT_RATIO.toFixed(2)}x`,
      verdict: invalid ? 'INVALID' : ratio >= TARGET_THROUGHPUT_RATIO ? 'PASS' : 'FAIL',
      lost: '0',
      notes: [
        ...problems.map((p) => `problem: ${p}`),
        `runs in order, Gbit/s: ${list('lease')}; the lease's traffic_in counter: ${fmtInt(counted / 1e6)} MB; CPU of the median run: ${cpuOf('lease')}`,
        `ratio per round (lease / direct measured back to back): ${roundRatios.map((r) => r.toFixed(2)).join(', ')}; median ${median(roundRatios).toFixed(2)}x (the result column: median lease / median direct)`,
        ...stopProblems.map((p) => `after the measurement: ${p}`),
      ],
    },
  ];
}

/* ------------------------------------------------------------------------------------------------------------ */

function errorRow(measurement: string, err: unknown): Row {
  return { measurement, value: 'ERROR', ratio: '-', target: '-', verdict: 'DID NOT RUN', lost: '-', notes: [(err as Error).message.split('\n')[0]] };
}

/**
 * Runs the selected workers measurements; resolves with the rows, notes, and whether a measurement could not
 * run. Never rejects for a measurement's sake: a failure becomes a DID NOT RUN row.
 */
export async function benchWorkers(s: WorkersSettings): Promise<{ rows: Row[]; notes: string[]; failed: boolean }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  let failed = false;
  const wantRegister = s.only.has('workers-register');
  const wantThroughput = s.only.has('workers-throughput');
  if (!wantRegister && !wantThroughput) return { rows, notes, failed };
  const fail = (label: string, err: unknown) => {
    failed = true;
    say(`${label} failed: ${(err as Error).stack ?? String(err)}`);
    rows.push(errorRow(label, err));
  };
  let tb: Testbed | undefined;
  try {
    for (const f of [LOAD_JS, SINK_JS, CLI_PATH]) if (!existsSync(f)) throw new Error(`${f} is missing: the build did not produce it`);
    const prefix = `rgwb${randomBytes(3).toString('hex')}-`;
    say(`testbed ${prefix}* (namespaces public, router, gwa, nat, worker1, worker2, hosta, hostb)`);
    tb = await Testbed.up({ prefix });
    const sinkPorts = [...Array.from({ length: s.portsPerWorker }, (_, i) => FIRST_SERVICE_PORT + i), BULK_PORT];
    const sink = tb.spawn('worker1', process.execPath, [SINK_JS, sinkPorts.join(',')]);
    await sink.ready('listening', 10_000);
    if (wantRegister) {
      try {
        rows.push(await registerRow(tb, s));
      } catch (err) {
        fail('workers-register', err);
      }
    }
    if (wantThroughput) {
      try {
        rows.push(...(await throughputRows(tb, sink, s)));
      } catch (err) {
        fail('workers-throughput', err);
      }
    }
  } catch (err) {
    if (wantRegister && !rows.length) fail('workers-register', err);
    if (wantThroughput) fail('workers-throughput', err);
  } finally {
    await tb?.down().catch((err) => say(`testbed down: ${(err as Error).message}`));
  }
  notes.push(
    `workers: one testbed of network namespaces; the gateway is \`realmgw run\` in gwa with the demo config (nfqueue data plane, STUN, workers API on ${API.address}:${API.port}, nftables backend) ` +
      `but the bench's own workers (${wantRegister ? `${fmtInt(s.workers)} for the registrations, ` : ''}${wantThroughput ? 'one for the throughput, ' : ''}each with its own secret, sha256 hashes in the config), ` +
      `public ports ${LEASE_PORTS[0]}-${LEASE_PORTS[1]}, a fresh state file, log level info; a new gateway per row`,
  );
  if (wantRegister) {
    notes.push(
      `registration: one load process in worker1 (${ADDR.worker1Private}) using WorkersApiClient (a new TCP connection per request, as \`realmgw worker\` does), ${s.concurrency} requests in flight; ` +
        `time = first request started -> last answer received; the gateway answers after the worker's nft transaction committed and the state file was written`,
    );
  }
  if (wantThroughput) {
    notes.push(
      `throughput: one TCP connection, node net sockets writing ${CHUNK_BYTES / 1024} KiB buffers for ${s.throughputSeconds} s, public -> gwa -> worker1 over veth; Gbit/s = bytes received by the sink / its first-to-last-byte time; ` +
        `${s.throughputRounds} rounds of lease and direct alternating which goes first (medians); the direct path's two routes exist only during its runs. ` +
        `Sender, receiver and the forwarding softirq (three namespaces' packet path) share ${os.cpus().length} CPUs and leave them nearly without idle time (see CPU): ` +
        `a figure is what this box does with all of it on it, not a link rate, and a cost the lease adds shows as a lower ratio only where it competes for that CPU`,
    );
  }
  return { rows, notes, failed };
}
