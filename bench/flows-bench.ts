/**
 * The data-plane part of `npm run bench` (called by dns-bench.ts; rows flows-nfqueue, flows-nftset, latency).
 *
 * Everything runs in one testbed of network namespaces built here (prefix rgwb<6 hex>-, removed on exit, on
 * error and on SIGINT/SIGTERM/SIGHUP by test/support/netns.ts): the demo topology, the gateway in gwa with the
 * demo config (pool 100.64.1.131-133, 2 s lifetime) but a generated policy folder, echo servers in hosta and
 * hostb, load clients in public. No packet leaves the namespaces.
 *
 * Policy: hosta.gwa.demo and hostb.gwa.demo with a high CIRCULARPOOL.max and K TCP service names with
 * distinct fixed ports (p5000.hosta.gwa.demo protocol 6 port 5000, ...): keys that never overlap, so the three
 * addresses carry up to 3 x K reservations at once.
 *
 * 1. Confirmed flows per second, per confirmation mode: C client processes in public run an open-loop
 *    schedule (bench/flows-load.ts) of DNS query then TCP connect + one request/response + close, at a
 *    stepped offered rate (warm-up, then a measured window per step), until a step fails (a failed flow,
 *    the achieved rate below 95 % of the offered one, p99 start lag above 50 ms, p99 flow time above 100 ms,
 *    i.e. 1 % of flows waiting for a DNS retry, or the admin API's counters disagreeing with the flows the
 *    clients saw succeed). The result is the achieved rate of the highest step that held. Per step: CPU of
 *    every process involved (the gateway's conntrack -E helper included; nft runs inside the gateway's process) and of the machine, gwa's
 *    conntrack -S and the hosts' TCP trouble counters, to say which side saturated and why flows failed.
 * 2. First-packet latency: closed loop, connect time (SYN -> SYN-ACK seen by the client) to a freshly reserved
 *    pool address, interleaved flow by flow with the same connect to a static DNAT reference (a bench-owned nft
 *    table in gwa: 100.64.1.130:9000 -> hosta:5000, same router, same forward path and firewall, no
 *    confirmation), so added latency = mode - static measured under identical conditions.
 *
 * The echo servers (bench/flows-server.ts) let the client close first, so TIME_WAIT stays on the client; see
 * --flow-close in dns-bench.ts for the other way round and what it does to a DNAT gateway.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { ADDR, POOL, Testbed, type NsProcess } from '../test/support/netns.js';
import { DEMO_CONFIG } from '../test/support/gateway.js';
import { CLI_PATH, DIST_DIR, makeTempDir } from '../test/support/repo.js';
import { summarizeProfile } from './cpuprofile-top.js';
import type { Dist, LatencyJob, LatencyResult, RateJob, RateResult, ServiceName } from './flows-load.js';
import { cpuMeter, descendants, formatCpu, processName, type CpuSample } from './proc-cpu.js';
import { adminGet } from '../src/admin/admin-client.js';

export const DATAPLANE_MEASUREMENTS = ['flows-nfqueue', 'flows-nftset', 'latency'] as const;
type Mode = 'nfqueue' | 'nftset';
const MODES: readonly Mode[] = ['nfqueue', 'nftset'];

export interface DataplaneSettings {
  only: Set<string>;
  /** measured seconds per rate step */
  flowSeconds: number;
  /** unmeasured seconds at the same rate before each step's window */
  flowWarmup: number;
  /** offered rates to step through, flows/s, ascending */
  rates: number[];
  /** load client processes in public */
  clients: number;
  /** flows per target (pool and static) for the latency rows */
  latencyFlows: number;
  /** TCP service names (distinct ports) in the bench policy */
  names: number;
  /** who closes each connection first (and keeps TIME_WAIT): 'client' (default) or 'server' */
  closeBy: 'client' | 'server';
  profileDir?: string;
}

export interface Row {
  measurement: string;
  value: string;
  /** ratio vs the reference (DNS rows), or the reference / added latency (data-plane rows) */
  ratio: string;
  target: string;
  verdict: string;
  /** lost queries (DNS rows) or failures (data-plane rows) */
  lost: string;
  notes: string[];
}

const TARGET_FLOWS_PER_S = 2000;
const STATIC = { address: ADDR.gwaWan, port: 9000, host: 'hosta', hostAddress: ADDR.hosta, hostPort: 5000 };
const STATIC_TABLE = 'rgwbench_static';
const CONCURRENCY_PER_CLIENT = 64;
/** Lag limits of a step that holds: flows start on schedule, and fewer than 1 % wait for a DNS retry (250 ms). */
const MAX_START_LAG_P99_MS = 50;
const MAX_FLOW_P99_MS = 100;
const DNS_TIMEOUT_MS = 250;
const DNS_TRIES = 8;
const IO_TIMEOUT_MS = 3000;
/** Pause between two latency flows: the gateway's bookkeeping of one flow (nftset: conntrack event, nft delete)
 * is over before the next connect, so each connect measures the packet path, not CPU contention with it. */
const LATENCY_GAP_MS = 5;
const LOAD_JS = path.join(DIST_DIR, 'bench', 'flows-load.js');
const SERVER_JS = { client: path.join(DIST_DIR, 'bench', 'flows-server.js'), server: path.join(DIST_DIR, 'test', 'support', 'flow-server.js') };

function say(message: string): void {
  process.stderr.write(`flows-bench: ${message}\n`);
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtUs = (n: number) => `${Math.round(n)} µs`;

/* ------------------------------------------------------------------------------------------------------------ */
/* Policy, servers, static reference, gateway                                                                   */

function serviceNames(k: number): ServiceName[] {
  const half = Math.ceil(k / 2);
  return Array.from({ length: k }, (_, i) => {
    const host = i < half ? 'hosta' : 'hostb';
    const port = 5000 + i;
    return { name: `p${port}.${host}.gwa.demo`, port, host };
  });
}

function writePolicies(dir: string, names: ServiceName[]): void {
  for (const [host, ipv4] of [
    ['hosta', ADDR.hosta],
    ['hostb', ADDR.hostb],
  ] as const) {
    const mine = names.filter((n) => n.host === host);
    writeFileSync(
      path.join(dir, `${host}.yaml`),
      [
        `# realmgw data-plane benchmark: ${host} with ${mine.length} TCP service names on distinct fixed ports (keys never overlap).`,
        `${host}.gwa.demo.:`,
        '    ID:',
        `        fqdn: ['${host}.gwa.demo.']`,
        `        ipv4: ['${ipv4}']`,
        '    CIRCULARPOOL: {max: 10000}',
        '    SFQDN:',
        ...mine.map((n) => `        - {fqdn: '${n.name}.', proxy_required: false, carriergrade: false, protocol: 6, port: ${n.port}}`),
        '',
      ].join('\n'),
    );
  }
}

async function startServers(tb: Testbed, names: ServiceName[], closeBy: 'client' | 'server'): Promise<NsProcess[]> {
  const out: NsProcess[] = [];
  for (const host of ['hosta', 'hostb'] as const) {
    const ports = names.filter((n) => n.host === host).map((n) => n.port);
    if (host === STATIC.host && !ports.includes(STATIC.hostPort)) ports.push(STATIC.hostPort);
    if (!ports.length) continue;
    const p = tb.spawn(host, process.execPath, [SERVER_JS[closeBy], '--name', host, '--tcp', ports.join(',')]);
    await p.ready('listening', 10_000);
    out.push(p);
  }
  return out;
}

/** The static DNAT reference: a table of the bench's own in gwa, untouched by realmgw (which owns `ip realmgw`). */
async function installStaticDnat(tb: Testbed): Promise<void> {
  const text = [
    `table ip ${STATIC_TABLE} {`,
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat - 10; policy accept;',
    `\t\tip daddr ${STATIC.address} tcp dport ${STATIC.port} dnat ip to ${STATIC.hostAddress}:${STATIC.hostPort}`,
    '\t}',
    '}',
    '',
  ].join('\n');
  await tb.exec('gwa', 'nft', ['-f', '-'], { input: text, check: true });
}

interface Stats {
  pool: { reserved: number; consumed: number; expired: number; cancelled: number; exhausted: number; hostLimited: number; live: number };
  dataplane: { confirm: string; confirmed: number; refused: number; unparsable: number; kernelOps: number; kernelOpFailures: number; confirmLagMs?: { p50: number; p90: number; p99: number } | null } | null;
  dns: { wan: { queriesUdp: number; allocations: number; exhaustedUdpDropped: number; kernelFailed: number } };
}

interface BenchGateway {
  mode: Mode;
  proc: NsProcess;
  adminSocket: string;
  profileFile?: string;
  stats(): Promise<Stats>;
}


async function startBenchGateway(tb: Testbed, mode: Mode, policies: string, s: DataplaneSettings): Promise<BenchGateway> {
  const demo = parse(readFileSync(DEMO_CONFIG, 'utf8')) as { [k: string]: unknown };
  const dir = await makeTempDir(`bench-gw-${mode}`);
  const adminSocket = path.join(dir, 'admin.sock');
  // The data plane's flow rate from one busy client: without the demo's abuse defences (the attack rows price
  // those), which would rightly refuse a requester holding the whole pool.
  const { pbra: _defences, ...rest } = demo;
  const config = {
    ...rest,
    zones: path.resolve(path.dirname(DEMO_CONFIG), demo.zones as string),
    policies,
    dataplane: { ...(demo.dataplane as object), confirm: mode },
    admin: { socket: adminSocket },
    log: { level: 'info' },
  };
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, `# realmgw data-plane benchmark (${mode}): the demo config with the bench's policies\n${stringify(config)}`);
  const nodeArgs: string[] = [];
  let profileFile: string | undefined;
  if (s.profileDir) {
    mkdirSync(s.profileDir, { recursive: true });
    const name = `realmgw-dataplane-${mode}-${process.pid}.cpuprofile`;
    profileFile = path.join(s.profileDir, name);
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', s.profileDir, '--cpu-prof-name', name);
  }
  const proc = tb.spawn('gwa', process.execPath, [...nodeArgs, CLI_PATH, 'run', '--config', file]);
  await proc.ready('realmgw running', 20_000);
  const g: BenchGateway = { mode, proc, adminSocket, profileFile, stats: () => adminGet(adminSocket, '/stats') as Promise<Stats> };
  const st = await g.stats();
  if (st.dataplane?.confirm !== mode) throw new Error(`gateway reports dataplane ${JSON.stringify(st.dataplane)}, expected ${mode}`);
  return g;
}

async function stopBenchGateway(g: BenchGateway): Promise<string | undefined> {
  const exit = await g.proc.stop('SIGTERM', 15_000);
  if (exit.code !== 0) say(`gateway (${g.mode}) exited ${exit.signal ?? exit.code}:\n${g.proc.tail(10)}`);
  if (g.profileFile && existsSync(g.profileFile)) {
    say(`CPU profile (${g.mode}, the gateway's whole life): ${g.profileFile}`);
    process.stderr.write(summarizeProfile(JSON.parse(readFileSync(g.profileFile, 'utf8')), { top: 25, focus: '/src/' }) + '\n');
    return g.profileFile;
  }
  return undefined;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Load clients                                                                                                 */

interface Client {
  proc: NsProcess;
}

async function startClients(tb: Testbed, jobs: (RateJob | LatencyJob)[]): Promise<Client[]> {
  const clients = jobs.map((job) => ({ proc: tb.spawn('public', process.execPath, [LOAD_JS, JSON.stringify(job)], { stdin: 'pipe' }) }));
  try {
    await Promise.all(clients.map((c) => c.proc.ready('ready', 10_000)));
  } catch (err) {
    await Promise.all(clients.map((c) => c.proc.stop('SIGKILL')));
    throw err;
  }
  return clients;
}

function go(clients: Client[], delayMs = 300): number {
  const at = Date.now() + delayMs;
  for (const c of clients) c.proc.child.stdin!.write(`go ${at}\n`);
  return at;
}

async function results<T>(clients: Client[], timeoutMs: number): Promise<T[]> {
  try {
    return await Promise.all(
      clients.map(async (c) => {
        const line = await c.proc.ready(/^result /, timeoutMs);
        return JSON.parse(line.slice('result '.length)) as T;
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.proc.stop('SIGTERM', 2000)));
  }
}

const sleepUntil = (epochMs: number) => sleep(Math.max(0, epochMs - Date.now()));

/* ------------------------------------------------------------------------------------------------------------ */
/* Confirmed flows per second                                                                                   */

interface Step {
  offered: number;
  achieved: number;
  holds: boolean;
  why: string[];
  flows: number;
  ok: number;
  failed: number;
  failures: { [reason: string]: number };
  dnsRetries: number;
  flowsRetried: number;
  allOk: number;
  consumed: number;
  confirmed: number;
  refused: number;
  exhausted: number;
  kernelOps: number;
  kernelOpFailures: number;
  /** nftset: reservation -> consumption known to the pool, over the gateway's last 4,096 (ms). */
  confirmLagMs?: { p50: number; p90: number; p99: number } | null;
  startLagP99: number;
  lateStarts: number;
  maxInFlight: number;
  dnsMs: Dist;
  connectUs: Dist;
  flowMs: Dist;
  cpu?: CpuSample;
  /** gwa's conntrack statistics (conntrack -S, summed over CPUs) that grew during the step */
  conntrack: { [counter: string]: number };
  /** TCP trouble counters (nstat) of public, hosta, hostb that grew during the step */
  tcp: { [counter: string]: number };
  firstErrors: string[];
}

/** nstat counters worth reporting when they grow: drops, overflows, resets, retransmissions, PAWS rejects. */
const TCP_TROUBLE = /Overflow|Drop|PAWS|Retrans|Rsts|AttemptFails|Abort|Timeout|Reset|Fail/;

/** TCP counters of a namespace (nstat -az: absolute values, kernel MIBs). */
async function tcpCounters(tb: Testbed, node: 'hosta' | 'hostb' | 'public'): Promise<{ [counter: string]: number }> {
  const r = await tb.exec(node, 'nstat', ['-asz', '--json'], { timeoutMs: 10_000 });
  const out: { [k: string]: number } = {};
  try {
    const j = JSON.parse(r.stdout) as { kernel?: { [k: string]: number } };
    for (const [k, v] of Object.entries(j.kernel ?? {})) if (/^Tcp/.test(k)) out[`${node}:${k}`] = v;
  } catch {
    /* nstat missing or odd output: no counters */
  }
  return out;
}

/** `conntrack -S` in a namespace, summed over CPUs. */
async function conntrackStats(tb: Testbed, node: 'gwa'): Promise<{ [counter: string]: number }> {
  const r = await tb.exec(node, 'conntrack', ['-S'], { timeoutMs: 10_000 });
  const out: { [k: string]: number } = {};
  for (const m of r.stdout.matchAll(/(\w+)=(\d+)/g)) if (m[1] !== 'cpu') out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

function grown(before: { [k: string]: number }, after: { [k: string]: number }, ignore: string[] = []): { [k: string]: number } {
  const out: { [k: string]: number } = {};
  for (const [k, v] of Object.entries(after)) if (!ignore.includes(k) && v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

function mergeDist(ds: Dist[]): Dist {
  // clients see the same distribution: weight by count (p99 of the merge is approximated by the worst client)
  const n = ds.reduce((a, d) => a + d.n, 0);
  if (n === 0) return ds[0];
  const w = (k: keyof Dist) => ds.reduce((a, d) => a + (d.n ? d[k] * d.n : 0), 0) / n;
  return { n, p50: w('p50'), p90: w('p90'), p99: Math.max(...ds.filter((d) => d.n).map((d) => d.p99)), max: Math.max(...ds.filter((d) => d.n).map((d) => d.max)), mean: w('mean') };
}

function processesToWatch(g: BenchGateway, clients: Client[], servers: NsProcess[]): { label: string; pid: number }[] {
  const out: { label: string; pid: number }[] = [];
  const gpid = g.proc.pid!;
  out.push({ label: 'gateway node', pid: gpid });
  for (const d of descendants(gpid)) out.push({ label: `gateway's ${processName(d)}`, pid: d });
  clients.forEach((c, i) => out.push({ label: `client ${i + 1}`, pid: c.proc.pid! }));
  for (const sv of servers) out.push({ label: `server ${sv.ns.replace(/^.*-/, '')}`, pid: sv.pid! });
  return out;
}

/** Waits (at most 5 s) until the previous step's reservations are gone: each step starts from an idle pool. */
async function quiescent(g: BenchGateway): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await g.stats()).pool.live > 0 && Date.now() < deadline) await sleep(100);
}

async function settledStats(g: BenchGateway, before: Stats, expected: number): Promise<Stats> {
  // nftset: the pool learns of consumed reservations from conntrack events, a little after the flows
  const deadline = Date.now() + 3000;
  let st = await g.stats();
  while (Date.now() < deadline && st.pool.consumed - before.pool.consumed < expected) {
    await sleep(100);
    st = await g.stats();
  }
  return st;
}

async function rateStep(tb: Testbed, g: BenchGateway, servers: NsProcess[], names: ServiceName[], rate: number, s: DataplaneSettings): Promise<Step> {
  const warmupMs = s.flowWarmup * 1000;
  const durationMs = s.flowSeconds * 1000;
  const jobs: RateJob[] = Array.from({ length: s.clients }, (_, i) => ({
    op: 'rate',
    dns: { server: ADDR.gwaWan, port: 53 },
    names,
    nameOffset: i,
    rate: rate / s.clients,
    warmupMs,
    durationMs,
    concurrency: CONCURRENCY_PER_CLIENT,
    dnsTimeoutMs: DNS_TIMEOUT_MS,
    dnsTries: DNS_TRIES,
    ioTimeoutMs: IO_TIMEOUT_MS,
    clientAddress: ADDR.public,
    closeBy: s.closeBy,
  }));
  await quiescent(g);
  // A clean conntrack table for each step (the TIME_WAIT entries of the previous step would otherwise pile up:
  // 120 s each, and the table holds 262,144).
  await tb.exec('gwa', 'conntrack', ['-F'], { timeoutMs: 30_000 });
  const clients = await startClients(tb, jobs);
  const ctBefore = await conntrackStats(tb, 'gwa');
  const tcpBefore = { ...(await tcpCounters(tb, 'hosta')), ...(await tcpCounters(tb, 'hostb')), ...(await tcpCounters(tb, 'public')) };
  const before = await g.stats();
  const at = go(clients);
  const cpuP = (async () => {
    await sleepUntil(at + warmupMs);
    // the gateway's helper (conntrack -E) starts lazily: look for them once the load runs
    const meter = cpuMeter(processesToWatch(g, clients, servers));
    await sleepUntil(at + warmupMs + durationMs);
    return meter();
  })();
  const rs = await results<RateResult>(clients, warmupMs + durationMs + DNS_TIMEOUT_MS * DNS_TRIES + IO_TIMEOUT_MS + 30_000);
  const cpu = await cpuP;
  const allOk = rs.reduce((a, r) => a + r.all.ok, 0);
  const after = await settledStats(g, before, allOk);
  const ctAfter = await conntrackStats(tb, 'gwa');
  const tcpAfter = { ...(await tcpCounters(tb, 'hosta')), ...(await tcpCounters(tb, 'hostb')), ...(await tcpCounters(tb, 'public')) };
  const tcpGrown = Object.fromEntries(Object.entries(grown(tcpBefore, tcpAfter)).filter(([k]) => TCP_TROUBLE.test(k)));
  const m = rs.map((r) => r.measured);
  const sum = (f: (x: RateResult['measured']) => number) => m.reduce((a, x) => a + f(x), 0);
  const windowStart = Math.min(...rs.map((r) => r.windowStart));
  const lastEnd = Math.max(...rs.map((r) => r.lastEnd));
  const ok = sum((x) => x.ok);
  const achieved = ok / Math.max(s.flowSeconds, (lastEnd - windowStart) / 1000);
  const failures: { [k: string]: number } = {};
  for (const x of m) for (const [k, v] of Object.entries(x.failures)) failures[k] = (failures[k] ?? 0) + v;
  const dp = (k: 'confirmed' | 'refused' | 'kernelOps' | 'kernelOpFailures') => (after.dataplane?.[k] ?? 0) - (before.dataplane?.[k] ?? 0);
  const step: Step = {
    offered: rate,
    achieved,
    holds: true,
    why: [],
    flows: sum((x) => x.flows),
    ok,
    failed: sum((x) => x.failed),
    failures,
    dnsRetries: sum((x) => x.dnsRetries),
    flowsRetried: sum((x) => x.flowsRetried),
    allOk,
    consumed: after.pool.consumed - before.pool.consumed,
    confirmed: dp('confirmed'),
    refused: dp('refused'),
    exhausted: after.pool.exhausted - before.pool.exhausted,
    kernelOps: dp('kernelOps'),
    kernelOpFailures: dp('kernelOpFailures'),
    confirmLagMs: after.dataplane?.confirmLagMs ?? null,
    startLagP99: Math.max(...m.map((x) => x.startLagMs.p99)),
    lateStarts: sum((x) => x.lateStarts),
    maxInFlight: Math.max(...rs.map((r) => r.maxInFlight)),
    dnsMs: mergeDist(m.map((x) => x.dnsMs)),
    connectUs: mergeDist(m.map((x) => x.connectUs)),
    flowMs: mergeDist(m.map((x) => x.flowMs)),
    cpu,
    conntrack: grown(ctBefore, ctAfter, ['found', 'insert', 'search_restart']),
    tcp: tcpGrown,
    firstErrors: rs.flatMap((r) => r.firstErrors).slice(0, 5),
  };
  const allFailed = rs.reduce((a, r) => a + r.all.failed, 0);
  if (step.failed || allFailed) step.why.push(`${step.failed} failed flows in the window (${allFailed} in the whole run): ${Object.entries(failures).map(([k, v]) => `${k} ${v}`).join(', ') || 'warm-up only'}`);
  if (achieved < 0.95 * rate) step.why.push(`achieved ${fmtInt(achieved)}/s < 95 % of offered`);
  if (step.startLagP99 > MAX_START_LAG_P99_MS) step.why.push(`p99 start lag ${step.startLagP99.toFixed(0)} ms (clients at their concurrency bound of ${CONCURRENCY_PER_CLIENT})`);
  if (step.flowMs.p99 > MAX_FLOW_P99_MS) step.why.push(`p99 flow time ${step.flowMs.p99.toFixed(0)} ms (${step.flowsRetried} flows waited for a DNS retry)`);
  if (step.consumed !== allOk) step.why.push(`admin /stats pool.consumed grew by ${step.consumed}, the clients completed ${allOk} flows`);
  if (step.confirmed !== allOk) step.why.push(`admin /stats dataplane.confirmed grew by ${step.confirmed}, the clients completed ${allOk} flows`);
  if (step.kernelOpFailures) step.why.push(`${step.kernelOpFailures} kernel operations failed`);
  step.holds = step.why.length === 0;
  return step;
}

function describeStep(st: Step): string {
  return (
    `offered ${fmtInt(st.offered)}/s -> ${fmtInt(st.achieved)}/s confirmed, ${fmtInt(st.ok)} ok / ${st.failed} failed, ` +
    `${st.dnsRetries} DNS retries (pool exhausted ${st.exhausted}x), consumed +${fmtInt(st.consumed)} confirmed +${fmtInt(st.confirmed)} refused +${st.refused}${st.kernelOps ? ` kernelOps +${fmtInt(st.kernelOps)}` : ''}${st.confirmLagMs ? `, slot held (reservation -> consumption seen) p50/p90/p99 ${st.confirmLagMs.p50}/${st.confirmLagMs.p90}/${st.confirmLagMs.p99} ms` : ''} (clients: ${fmtInt(st.allOk)} with warm-up), ` +
    (Object.keys(st.conntrack).length ? `gwa conntrack -S ${Object.entries(st.conntrack).map(([k, v]) => `${k} +${v}`).join(' ')}, ` : '') +
    (Object.keys(st.tcp).length ? `TCP counters ${Object.entries(st.tcp).map(([k, v]) => `${k} +${v}`).join(' ')}, ` : '') +
    `DNS p50/p99 ${st.dnsMs.p50.toFixed(1)}/${st.dnsMs.p99.toFixed(1)} ms, connect p50/p99 ${fmtUs(st.connectUs.p50)}/${fmtUs(st.connectUs.p99)}, ` +
    `flow p50/p99 ${st.flowMs.p50.toFixed(1)}/${st.flowMs.p99.toFixed(1)} ms, start lag p99 ${st.startLagP99.toFixed(1)} ms, max in flight ${st.maxInFlight}` +
    (st.holds ? '' : ` -- does not hold: ${st.why.join('; ')}`)
  );
}

async function rateSteps(tb: Testbed, g: BenchGateway, servers: NsProcess[], names: ServiceName[], s: DataplaneSettings): Promise<Step[]> {
  const steps: Step[] = [];
  for (const rate of s.rates) {
    say(`${g.mode}: offered ${fmtInt(rate)} flows/s for ${s.flowWarmup}+${s.flowSeconds} s with ${s.clients} clients`);
    const st = await rateStep(tb, g, servers, names, rate, s);
    say(`${g.mode}: ${describeStep(st)}`);
    if (st.cpu) say(`${g.mode}: CPU ${formatCpu(st.cpu)}`);
    if (st.firstErrors.length) say(`${g.mode}: first errors: ${st.firstErrors.join(' | ')}`);
    steps.push(st);
    if (!st.holds) break;
    if (!g.proc.running) throw new Error(`realmgw (${g.mode}) died:\n${g.proc.tail(20)}`);
  }
  return steps;
}

/** Which side ran out first: the busiest process at the failing step, against one core. */
function saturation(st: Step | undefined): string {
  if (!st?.cpu) return '';
  const top = st.cpu.processes[0];
  const m = st.cpu.machine;
  const parts = [`busiest process ${top.label} ${top.pct.toFixed(0)}% of a core`];
  if (m.idle < 10 * m.cores) parts.push(`machine idle ${m.idle.toFixed(0)}% of ${m.cores * 100}% (both cores busy)`);
  return parts.join('; ');
}

/* ------------------------------------------------------------------------------------------------------------ */
/* First-packet latency                                                                                         */

interface Latency {
  pool: Dist;
  static: Dist;
  poolFailed: number;
  staticFailed: number;
  dnsRetries: number;
  consumed: number;
  firstErrors: string[];
}

function exactDist(values: number[]): Dist {
  if (!values.length) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const v = Float64Array.from(values).sort();
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  return { n: v.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: v[v.length - 1], mean: v.reduce((a, b) => a + b, 0) / v.length };
}

async function latencyRun(tb: Testbed, g: BenchGateway, names: ServiceName[], s: DataplaneSettings): Promise<Latency> {
  const job: LatencyJob = {
    op: 'latency',
    dns: { server: ADDR.gwaWan, port: 53 },
    names,
    count: s.latencyFlows,
    static: { address: STATIC.address, port: STATIC.port, host: STATIC.host },
    gapMs: LATENCY_GAP_MS,
    dnsTimeoutMs: DNS_TIMEOUT_MS,
    dnsTries: DNS_TRIES,
    ioTimeoutMs: IO_TIMEOUT_MS,
    clientAddress: ADDR.public,
    closeBy: s.closeBy,
  };
  await tb.exec('gwa', 'conntrack', ['-F'], { timeoutMs: 30_000 });
  const clients = await startClients(tb, [job]);
  const before = await g.stats();
  go(clients, 100);
  const [r] = await results<LatencyResult>(clients, s.latencyFlows * 2 * (IO_TIMEOUT_MS + 50) + 60_000);
  const after = await settledStats(g, before, r.pool.connectUs.length);
  return {
    pool: exactDist(r.pool.connectUs),
    static: exactDist(r.static.connectUs),
    poolFailed: r.pool.failed,
    staticFailed: r.static.failed,
    dnsRetries: r.pool.dnsRetries,
    consumed: after.pool.consumed - before.pool.consumed,
    firstErrors: r.firstErrors,
  };
}

/* ------------------------------------------------------------------------------------------------------------ */

function errorRow(measurement: string, err: unknown): Row {
  return { measurement, value: 'ERROR', ratio: '-', target: '-', verdict: 'DID NOT RUN', lost: '-', notes: [(err as Error).message.split('\n')[0]] };
}

const flowsLabel = (mode: Mode, k: number) => `confirmed new TCP flows/s, ${mode} (DNS + connect + request/response, 3-address pool, ${k} keys)`;

/**
 * Runs the selected data-plane measurements; resolves with the rows, notes, and whether a measurement could not
 * run. Never rejects for a measurement's sake: a failure becomes a DID NOT RUN row.
 */
export async function benchDataplane(s: DataplaneSettings): Promise<{ rows: Row[]; notes: string[]; failed: boolean }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  let failed = false;
  const wantLatency = s.only.has('latency');
  const modes = MODES.filter((m) => s.only.has(`flows-${m}`) || wantLatency);
  if (!modes.length) return { rows, notes, failed };
  for (const f of [LOAD_JS, SERVER_JS[s.closeBy], CLI_PATH]) if (!existsSync(f)) throw new Error(`${f} is missing: the build did not produce it`);
  const names = serviceNames(s.names);
  const latency = new Map<Mode, Latency | Error>();
  const flows = new Map<Mode, Step[] | Error>();
  const profiles: string[] = [];
  let tb: Testbed | undefined;
  try {
    const prefix = `rgwb${randomBytes(3).toString('hex')}-`;
    say(`testbed ${prefix}* (namespaces public, router, gwa, hosta, hostb)`);
    tb = await Testbed.up({ prefix });
    const policies = await makeTempDir('bench-policies');
    writePolicies(policies, names);
    const servers = await startServers(tb, names, s.closeBy);
    await installStaticDnat(tb);
    for (const mode of modes) {
      let g: BenchGateway | undefined;
      try {
        await tb.exec('gwa', 'conntrack', ['-F'], { timeoutMs: 30_000 });
        g = await startBenchGateway(tb, mode, policies, s);
        say(`${mode}: gateway running (pool ${POOL.join(', ')}, ${names.length} service names)`);
        if (wantLatency) {
          try {
            say(`${mode}: first-packet latency, ${s.latencyFlows} pool flows interleaved with ${s.latencyFlows} static DNAT flows`);
            const l = await latencyRun(tb, g, names, s);
            say(`${mode}: connect p50/p99 pool ${fmtUs(l.pool.p50)}/${fmtUs(l.pool.p99)}, static ${fmtUs(l.static.p50)}/${fmtUs(l.static.p99)}`);
            latency.set(mode, l);
          } catch (err) {
            latency.set(mode, err as Error);
          }
        }
        if (s.only.has(`flows-${mode}`)) {
          try {
            flows.set(mode, await rateSteps(tb, g, servers, names, s));
          } catch (err) {
            flows.set(mode, err as Error);
          }
        }
      } catch (err) {
        if (wantLatency && !latency.has(mode)) latency.set(mode, err as Error);
        if (s.only.has(`flows-${mode}`) && !flows.has(mode)) flows.set(mode, err as Error);
      } finally {
        if (g) {
          const profile = await stopBenchGateway(g);
          if (profile) profiles.push(profile);
        }
      }
    }
  } catch (err) {
    for (const mode of modes) {
      if (s.only.has(`flows-${mode}`) && !flows.has(mode)) flows.set(mode, err as Error);
      if (wantLatency && !latency.has(mode)) latency.set(mode, err as Error);
    }
  } finally {
    await tb?.down().catch((err) => say(`testbed down: ${(err as Error).message}`));
  }

  // Rows: flows per mode
  for (const mode of MODES) {
    const f = flows.get(mode);
    if (f === undefined) continue;
    if (f instanceof Error) {
      failed = true;
      say(`flows ${mode} failed: ${f.stack ?? f.message}`);
      rows.push(errorRow(flowsLabel(mode, names.length), f));
      continue;
    }
    const held = f.filter((x) => x.holds);
    const best = held[held.length - 1];
    const broke = f.find((x) => !x.holds);
    const value = best ? `${fmtInt(best.achieved)} flows/s` : `< ${fmtInt(f[0].offered)} flows/s`;
    const ceiling = broke ? `; next step ${fmtInt(broke.offered)}/s did not hold` : `; every step held (raise BENCH_FLOW_RATES)`;
    const row: Row = {
      measurement: flowsLabel(mode, names.length),
      value: best ? `${value} (offered ${fmtInt(best.offered)}/s${ceiling})` : `${value} (no step held)`,
      ratio: '-',
      target: `≥ ${fmtInt(TARGET_FLOWS_PER_S)}/s`,
      verdict: best && best.achieved >= TARGET_FLOWS_PER_S ? 'PASS' : 'FAIL',
      lost: best ? `0 of ${fmtInt(best.flows)}; ${best.dnsRetries} DNS retries` : `${f[0].failed} of ${fmtInt(f[0].flows)}`,
      notes: [],
    };
    for (const st of f) row.notes.push(describeStep(st));
    if (best?.cpu) row.notes.push(`CPU at ${fmtInt(best.offered)}/s: ${formatCpu(best.cpu)}`);
    if (broke?.cpu) row.notes.push(`CPU at ${fmtInt(broke.offered)}/s (did not hold): ${formatCpu(broke.cpu)}; ${saturation(broke)}`);
    if (broke?.firstErrors.length) row.notes.push(`first errors at ${fmtInt(broke.offered)}/s: ${broke.firstErrors.join(' | ')}`);
    rows.push(row);
  }
  // Rows: latency
  const lat = MODES.flatMap((m) => {
    const l = latency.get(m);
    return l === undefined ? [] : [[m, l] as const];
  });
  if (lat.length) {
    const ok = lat.filter((x): x is readonly [Mode, Latency] => !(x[1] instanceof Error));
    if (ok.length) {
      const statics = ok.map(([m, l]) => `${m} session: median ${fmtUs(l.static.p50)}, p99 ${fmtUs(l.static.p99)}`);
      const allStatic = ok.reduce((a, [, l]) => a + l.static.n, 0);
      const staticFailed = ok.reduce((a, [, l]) => a + l.staticFailed, 0);
      const first = ok[0][1];
      rows.push({
        measurement: `first-packet latency: TCP connect via static DNAT (reference, nft dnat ${STATIC.address}:${STATIC.port} -> hosta:${STATIC.hostPort})`,
        value: `median ${fmtUs(first.static.p50)}, p99 ${fmtUs(first.static.p99)}`,
        ratio: 'reference',
        target: '-',
        verdict: '-',
        lost: `${staticFailed} of ${fmtInt(allStatic + staticFailed)}`,
        notes: [`measured interleaved with each mode's flows: ${statics.join('; ')} (the result column shows the ${ok[0][0]} session)`],
      });
    }
    for (const [mode, l] of lat) {
      const label = `first-packet latency: TCP connect to a freshly reserved pool address, ${mode}`;
      if (l instanceof Error) {
        failed = true;
        say(`latency ${mode} failed: ${l.stack ?? l.message}`);
        rows.push(errorRow(label, l));
        continue;
      }
      const notes = [
        `${fmtInt(l.pool.n)} flows (DNS answered first, not timed), each followed or preceded by a static DNAT flow; added = ${mode} - static of the same session; ` +
          `p90 ${fmtUs(l.pool.p90)} (static ${fmtUs(l.static.p90)}), mean ${fmtUs(l.pool.mean)} (static ${fmtUs(l.static.mean)}), max ${fmtUs(l.pool.max)}; ` +
          `admin /stats pool.consumed +${l.consumed}; ${l.dnsRetries} DNS retries`,
      ];
      if (l.consumed !== l.pool.n) notes.push(`pool.consumed grew by ${l.consumed}, ${l.pool.n} flows succeeded`);
      if (l.firstErrors.length) notes.push(`first errors: ${l.firstErrors.join(' | ')}`);
      rows.push({
        measurement: label,
        value: `median ${fmtUs(l.pool.p50)}, p99 ${fmtUs(l.pool.p99)}`,
        ratio: `added: median ${signed(l.pool.p50 - l.static.p50)}, p99 ${signed(l.pool.p99 - l.static.p99)}`,
        target: 'report',
        verdict: l.poolFailed || l.staticFailed || l.consumed !== l.pool.n ? 'INVALID' : '-',
        lost: `${l.poolFailed} of ${fmtInt(l.pool.n + l.poolFailed)}`,
        notes,
      });
    }
  }
  notes.push(
    `data plane: one testbed of network namespaces (public -> router -> gwa -> hosta/hostb over veth), the demo gateway config ` +
      `(pool ${POOL[0]}-${POOL[POOL.length - 1].split('.').pop()}, lifetime 2 s, unmatched: reject) with ${names.length} TCP service names ` +
      `(${names[0].name} ... ${names[names.length - 1].name}, ports ${names[0].port}-${names[names.length - 1].port}), CIRCULARPOOL.max 10000; ` +
      `flows: ${s.clients} client processes in public, ${CONCURRENCY_PER_CLIENT} flows in flight at most each, DNS retry after ${DNS_TIMEOUT_MS} ms of silence (${DNS_TRIES} tries), ` +
      `${s.flowWarmup} s warm-up + ${s.flowSeconds} s measured per step, steps ${s.rates.map(fmtInt).join(', ')}/s, conntrack table flushed in gwa before each step; ` +
      `a step holds with no failed flow, >= 95 % of the offered rate achieved, p99 start lag <= ${MAX_START_LAG_P99_MS} ms, p99 flow time <= ${MAX_FLOW_P99_MS} ms ` +
      `(i.e. under 1 % of flows waited for a DNS retry), and pool.consumed = dataplane.confirmed = flows completed`,
  );
  notes.push(
    `connections are closed by the ${s.closeBy} first (--flow-close)` +
      (s.closeBy === 'server'
        ? ': the hosts keep TIME_WAIT, and a client port reused towards another pool address for the same host:port meets it after DNAT (PAWS reject, SYN retransmitted 1 s later, refused because the first SYN consumed the reservation)'
        : ', so TIME_WAIT stays on the client; with the host closing first (--flow-close server) one client address at >= 1,000 flows/s meets the hosts\' TIME_WAIT after DNAT and loses flows (see the TCP counters of such a run)'),
  );
  notes.push(
  );
  notes.push(`machine: ${os.cpus().length} CPUs: clients, servers, gateway, nft/conntrack helpers and the kernel's packet path all share them`);
  if (profiles.length) notes.push(`the gateway ran under node --cpu-prof (its numbers are lower than without): ${profiles.join(', ')}`);
  return { rows, notes, failed };
}

const signed = (us: number) => `${us >= 0 ? '+' : '−'}${Math.abs(Math.round(us))} µs`;
