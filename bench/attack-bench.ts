/**
 * The attack part of `npm run bench` (issue 8; called by dns-bench.ts; rows attack-phases, attack-alloc).
 *
 * 1. attack-phases: the four phases of test/support/attack/phases.ts in one testbed, the gateway configured
 *    with DEFENCES.on (test/support/attack/defences.ts; empty until the defences land, i.e. today's gateway):
 *    per phase the legitimate success in percent (target >= 99 %; the issue stays open while a phase is below
 *    95 %), the attack rate the attacker achieved and what reached gwa's WAN, and the pool's counters.
 * 2. attack-alloc: allocating queries per second of a proven requester (dnsperf over TCP: the handshake proves
 *    its address, so no defence may turn it away) with the defences off and on, alternating run by run between
 *    two testbeds whose gateways run all along; the ratio on/off has a target of >= 0.90 (cost at most 10 %). A /14 pool and a generated
 *    policy with non-overlapping keys, so the pool never runs out and every answer is a fresh reservation.
 *
 * Knobs (environment): RGW_ATTACK_FLOWS (100 flows per phase), RGW_ATTACK_LEGIT_RATE (10/s),
 * RGW_ATTACK_UDP_RATE (500/s), RGW_ATTACK_SYN_RATE (2000/s), RGW_ATTACK_AGGRESSIVE_RATE (200/s),
 * RGW_ATTACK_ATTEMPTS (2), BENCH_ATTACK_PHASES (comma list, default all four), BENCH_ATTACK_ALLOC_SECONDS (3),
 * BENCH_ATTACK_ALLOC_ROUNDS (5 off/on pairs), BENCH_ATTACK_DEFENCES (on: the phases' gateway; off to compare).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GatewayStats } from '../test/support/gateway.js';
import { makeTempDir } from '../test/support/repo.js';
import { DEFENCES, type GatewayOverrides } from '../test/support/attack/defences.js';
import { AttackBed, type PhaseResult } from '../test/support/attack/phases.js';
import { percent, phaseSettingsFromEnv, PHASES, type PhaseName, type PhaseSettings } from '../test/support/attack/plan.js';
import type { Row } from './flows-bench.js';

export const ATTACK_MEASUREMENTS = ['attack-phases', 'attack-alloc'] as const;
export const ATTACK_HEADER = ['| measurement | result | attack achieved / ratio | target | verdict | failures |', '|---|---:|---:|---:|---|---:|'];

export interface AttackSettings {
  only: Set<string>;
  /** which side of DEFENCES the phases run with */
  phasesWith: 'on' | 'off';
  phases: PhaseName[];
  phase: PhaseSettings;
  allocSeconds: number;
  allocRounds: number;
}

export function attackSettingsFromEnv(only: Set<string>, env = process.env): AttackSettings {
  const phases = (env.BENCH_ATTACK_PHASES || PHASES.join(',')).split(',').map((p) => p.trim()) as PhaseName[];
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`BENCH_ATTACK_PHASES: unknown phase '${p}' (known: ${PHASES.join(', ')})`);
  const int = (name: string, def: number, min: number, max: number) => {
    const raw = env[name];
    const x = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(x) || x < min || x > max) throw new Error(`${name} must be an integer in ${min}..${max}, not ${raw}`);
    return x;
  };
  const phasesWith = env.BENCH_ATTACK_DEFENCES || 'on';
  if (phasesWith !== 'on' && phasesWith !== 'off') throw new Error(`BENCH_ATTACK_DEFENCES must be on or off, not ${phasesWith}`);
  return {
    only,
    phasesWith,
    phases,
    phase: phaseSettingsFromEnv(env),
    allocSeconds: int('BENCH_ATTACK_ALLOC_SECONDS', 3, 1, 120),
    allocRounds: int('BENCH_ATTACK_ALLOC_ROUNDS', 5, 1, 20),
  };
}

const TARGET_SUCCESS = 99;
const FLOOR_SUCCESS = 95;
const TARGET_ALLOC_RATIO = 0.9;

function say(message: string): void {
  process.stderr.write(`attack-bench: ${message}\n`);
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

/* ------------------------------------------------------------------------------------------------------------ */
/* Phases                                                                                                       */

function attackLabel(phase: PhaseName, s: PhaseSettings): string {
  switch (phase) {
    case 'no-attack':
      return 'no attack';
    case 'spoofed-udp':
      return `spoofed UDP queries, ${fmtInt(s.spoofedUdpRate)}/s offered`;
    case 'syn-flood':
      return `spoofed SYNs at the pool, ${fmtInt(s.synRate)}/s offered`;
    case 'aggressive-client':
      return `one real client, ${fmtInt(s.aggressiveRate)} q/s offered`;
  }
}

function poolDelta(a: GatewayStats, b: GatewayStats): string {
  const d = (k: keyof GatewayStats['pool']) => fmtInt(b.pool[k] - a.pool[k]);
  const w = (k: string) => fmtInt((b.dns.wan[k] ?? 0) - (a.dns.wan[k] ?? 0));
  return (
    `pool: reserved ${d('reserved')}, consumed ${d('consumed')}, expired ${d('expired')}, exhausted ${d('exhausted')}, hostLimited ${d('hostLimited')}; ` +
    `WAN DNS: ${w('queriesUdp')} UDP / ${w('queriesTcp')} TCP queries, ${w('allocations')} allocations, ${w('exhaustedUdpDropped')} dropped on exhaustion`
  );
}

function phaseRow(r: PhaseResult, s: PhaseSettings): Row {
  const pct = r.flows ? (100 * r.ok) / r.flows : 0;
  const verdict = pct >= TARGET_SUCCESS ? 'PASS' : pct >= FLOOR_SUCCESS ? 'BELOW TARGET' : 'FAIL (< 95 %)';
  const achieved = r.attack ? `${fmtInt(r.attack.rate)}/s (${fmtInt(r.attack.sent)} sent); ${fmtInt(r.wanRxPackets / r.seconds)} pkt/s at gwa` : '-';
  const reasons = Object.entries(r.reasons)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} x${v}`)
    .join(', ');
  const notes = [
    ...(r.attackEndedEarly ? [`INVALID: the attacker stopped after ${r.attack!.seconds} s, before the workload ended (${r.seconds} s)`] : []),
    `${r.flows} flows in ${r.seconds} s, ${r.retried} succeeded on a second try${reasons ? `; failures: ${reasons}` : ''}`, poolDelta(r.statsBefore, r.statsAfter)];
  if (r.phase === 'aggressive-client' && r.attack) {
    const a = r.attack as { addresses?: number; udp?: { tc: number; timeouts: number }; tcp?: { queries: number; answers: number }; serverCookieSeen?: boolean };
    notes.push(
      `aggressive client: ${fmtInt(a.addresses ?? 0)} addresses obtained, ${fmtInt(a.udp?.tc ?? 0)} TC answers, ${fmtInt(a.tcp?.queries ?? 0)} TCP queries ` +
        `(${fmtInt(a.tcp?.answers ?? 0)} answered), ${fmtInt(a.udp?.timeouts ?? 0)} UDP timeouts, server cookie ${a.serverCookieSeen ? 'seen and echoed' : 'never offered'}`,
    );
  }
  return {
    measurement: `legitimate success, ${attackLabel(r.phase, s)}`,
    value: `${percent(r.ok, r.flows)} (${r.ok}/${r.flows})`,
    ratio: achieved,
    target: `>= ${TARGET_SUCCESS} %`,
    verdict: r.attackEndedEarly ? `INVALID (${verdict})` : verdict,
    lost: String(r.failed),
    notes,
  };
}

async function benchPhases(s: AttackSettings): Promise<{ rows: Row[]; notes: string[] }> {
  const bed = await AttackBed.up({ overrides: DEFENCES[s.phasesWith] });
  const rows: Row[] = [];
  const ecs = bed.resolverSendsEcs;
  try {
    say(`testbed ${bed.tb.prefix}: phases ${s.phases.join(', ')}, ${s.phase.flows} legitimate flows each at ${s.phase.legitRate}/s`);
    for (const phase of s.phases) {
      const r = await bed.runPhase(phase, s.phase);
      say(`${phase}: ${r.ok}/${r.flows} ok${r.attack ? `, attacker ${fmtInt(r.attack.rate)}/s` : ''}`);
      rows.push(phaseRow(r, s.phase));
    }
  } finally {
    await bed.down();
  }
  const p = s.phase;
  return {
    rows,
    notes: [
      `legitimate clients behind Debian's Unbound (ECS ${ecs ? 'on: the gateway echoes it' : 'off: the gateway does not echo it'}) in rgw-public, ${p.legitRate} flows/s over ${LEGIT_NAMES}, up to ${p.attempts} attempts per flow (stub: 2 tries of 2 s); ` +
        `spoofed sources 198.18.0.0/15 (raw socket, test/support/attack/spoof.py); defences ${s.phasesWith}: ${JSON.stringify(DEFENCES[s.phasesWith])}`,
    ],
  };
}

const LEGIT_NAMES = 'tcp/udp/ssh names of hosta and hostb';

/* ------------------------------------------------------------------------------------------------------------ */
/* Allocating QPS of a proven requester, defences off vs on                                                     */

const ALLOC_POOL = '10.128.0.0/14'; // 262,144 addresses: data in answers only, never contacted
const ALLOC_HOST = 'bench.gwa.demo';
const ALLOC_SERVICES = Array.from({ length: 16 }, (_, i) => ({ fqdn: `s${String(i).padStart(2, '0')}.${ALLOC_HOST}`, protocol: i < 8 ? 6 : 17, port: 10000 + (i % 8) }));

async function allocPolicies(): Promise<string> {
  const dir = await makeTempDir('attack-alloc-policies');
  writeFileSync(
    path.join(dir, 'bench.yaml'),
    [
      '# attack bench: one host, service names with pairwise non-overlapping (protocol, port) keys.',
      `${ALLOC_HOST}.:`,
      '    ID:',
      `        fqdn: ['${ALLOC_HOST}.']`,
      "        ipv4: ['192.168.0.200']",
      '    CIRCULARPOOL: {max: 1000000}',
      '    SFQDN:',
      ...ALLOC_SERVICES.map((x) => `        - {fqdn: '${x.fqdn}.', proxy_required: false, carriergrade: false, protocol: ${x.protocol}, port: ${x.port}}`),
      '',
    ].join('\n'),
  );
  return dir;
}

interface AllocRun {
  qps: number;
  sent: number;
  completed: number;
  allocations: number;
  /** the gateway's CPU time (user + system) during the run, in ms */
  cpuMs: number;
}

/** utime + stime of a process in ms (`ip netns exec` execs the command, so the spawned pid is the gateway's). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

async function dnsperfTcp(bed: AttackBed, queryFile: string, seconds: number): Promise<AllocRun> {
  const before = await bed.gw.stats();
  const pid = bed.gw.proc.pid!;
  const cpuBefore = cpuMsOf(pid);
  const args = ['-s', '100.64.1.130', '-m', 'tcp', '-d', queryFile, '-l', String(seconds), '-c', '4', '-T', '1', '-q', '100'];
  const r = await bed.tb.exec('public', 'dnsperf', args, { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`dnsperf ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  const cpuMs = cpuMsOf(pid) - cpuBefore;
  const after = await bed.gw.stats();
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const run = {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    allocations: (after.dns.wan.allocations ?? 0) - (before.dns.wan.allocations ?? 0),
    cpuMs,
  };
  if (!Number.isFinite(run.qps)) throw new Error(`dnsperf output has no rate:\n${r.stdout}`);
  return run;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The "on" side of the allocating-QPS row: the demo's defences doing all their work per query (proof check,
 * PBRA parties, reputation bookkeeping, tiers and budget evaluated), with a policy that admits this requester.
 * dnsperf never connects, so under the demo's own tiers its reputation sinks within a second and it is refused
 * (0 allocations measured): that is the defence working, not its cost.
 */
const ALLOC_ON: GatewayOverrides = {
  ...DEFENCES.on,
  pbra: { tiers: [{ loadMin: 0, loadMax: 100, fqdnNew: 0, sfqdnNew: 0, sfqdnReuse: 0, math: 'max' }], requesterBudget: { share: 1 } },
};

async function benchAlloc(s: AttackSettings): Promise<{ rows: Row[]; notes: string[] }> {
  const policies = await allocPolicies();
  const queryFile = path.join(await makeTempDir('attack-alloc-queries'), 'alloc.txt');
  writeFileSync(queryFile, ALLOC_SERVICES.map((x) => `${x.fqdn} A`).join('\n') + '\n');
  const config = (defences: GatewayOverrides): GatewayOverrides => ({ ...defences, policies, pool: { ...((defences.pool as object) ?? {}), addresses: [ALLOC_POOL] } });
  // Two testbeds, one gateway each, both running all along: the runs alternate between them with no restart in
  // between, so the two sides of a round see the same machine (an idle gateway costs nothing meanwhile).
  const beds: Partial<Record<'off' | 'on', AttackBed>> = {};
  const runs: { off: AllocRun[]; on: AllocRun[] } = { off: [], on: [] };
  try {
    beds.off = await AttackBed.up({ overrides: config(DEFENCES.off) });
    beds.on = await AttackBed.up({ overrides: config(ALLOC_ON) });
    for (const side of ['off', 'on'] as const) await dnsperfTcp(beds[side]!, queryFile, 1); // JIT warm-up, unmeasured
    for (let round = 0; round < s.allocRounds; round++) {
      // alternate which goes first, so a machine getting busier or quieter does not favour one side
      const order: ('off' | 'on')[] = round % 2 ? ['on', 'off'] : ['off', 'on'];
      for (const side of order) {
        const r = await dnsperfTcp(beds[side]!, queryFile, s.allocSeconds);
        say(`alloc, defences ${side}: ${fmtInt(r.qps)} q/s over TCP (${fmtInt(r.allocations)} allocations)`);
        runs[side].push(r);
      }
    }
  } finally {
    await beds.on?.down();
    await beds.off?.down();
  }
  const off = median(runs.off.map((r) => r.qps));
  const on = median(runs.on.map((r) => r.qps));
  // The two runs of a round are seconds apart and alternate in order: the median of the per-round ratios
  // resists a machine whose load changes (other work on 2 cores moves single runs by +-25 %).
  const ratio = median(runs.on.map((r, i) => r.qps / runs.off[i].qps));
  // The gateway's CPU per allocation does not depend on who else uses the machine as much as a rate does.
  const usPer = (rs: AllocRun[]) => (1000 * rs.reduce((n, r) => n + r.cpuMs, 0)) / Math.max(1, rs.reduce((n, r) => n + r.allocations, 0));
  const cpuOff = usPer(runs.off);
  const cpuOn = usPer(runs.on);
  const problems = [...runs.off, ...runs.on].filter((r) => r.allocations < r.completed * 0.99).map((r) => `${r.allocations} allocations for ${r.completed} answers`);
  return {
    rows: [
      {
        measurement: 'allocating QPS, proven requester (dnsperf over TCP), defences off',
        value: `${fmtInt(off)} qps`,
        ratio: '1.00',
        target: 'reference',
        verdict: '-',
        lost: String(runs.off.reduce((n, r) => n + r.sent - r.completed, 0)),
        notes: [`gateway CPU ${cpuOff.toFixed(1)} µs per allocation; runs ${runs.off.map((r) => fmtInt(r.qps)).join(', ')} qps`],
      },
      {
        measurement: 'allocating QPS, proven requester (dnsperf over TCP), defences on',
        value: `${fmtInt(on)} qps`,
        ratio: ratio.toFixed(2),
        target: `>= ${TARGET_ALLOC_RATIO.toFixed(2)}`,
        verdict: problems.length ? 'INVALID' : ratio >= TARGET_ALLOC_RATIO ? 'PASS' : 'FAIL',
        lost: String(runs.on.reduce((n, r) => n + r.sent - r.completed, 0)),
        notes: [
          `ratio = median of the per-round on/off ratios; gateway CPU ${cpuOn.toFixed(1)} µs per allocation (${(cpuOff / cpuOn).toFixed(2)}x the off side's rate per CPU second); runs ${runs.on.map((r) => fmtInt(r.qps)).join(', ')} qps`,
          ...(problems.length ? [`answers without a reservation: ${problems.join('; ')}`] : []),
        ],
      },
      {
        // The same cost measured as the gateway's CPU time per allocation: on a shared 2-core machine a rate moves
        // +-25 % between runs with identical configs, CPU per allocation a few per cent.
        measurement: 'allocations per gateway CPU second, proven requester, defences on (vs off)',
        value: `${fmtInt(1e6 / cpuOn)} /CPU-s (off: ${fmtInt(1e6 / cpuOff)})`,
        ratio: (cpuOff / cpuOn).toFixed(2),
        target: `>= ${TARGET_ALLOC_RATIO.toFixed(2)}`,
        verdict: problems.length ? 'INVALID' : cpuOff / cpuOn >= TARGET_ALLOC_RATIO ? 'PASS' : 'FAIL',
        lost: '-',
        notes: [],
      },
    ],
    notes: [
      `alloc: ${s.allocRounds} off/on pairs of ${s.allocSeconds} s (medians), alternating order, two testbeds; dnsperf -m tcp -c 4 -q 100 from public to the gateway in gwa; ` +
        `pool ${ALLOC_POOL}, ${ALLOC_SERVICES.length} non-overlapping keys; defences on = ${JSON.stringify(ALLOC_ON)}, off = ${JSON.stringify(DEFENCES.off)}`,
    ],
  };
}

/* ------------------------------------------------------------------------------------------------------------ */

export async function benchAttack(s: AttackSettings): Promise<{ rows: Row[]; notes: string[]; failed: boolean }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  let failed = false;
  const attempt = async (name: (typeof ATTACK_MEASUREMENTS)[number], fn: () => Promise<{ rows: Row[]; notes: string[] }>) => {
    if (!s.only.has(name)) return;
    try {
      const r = await fn();
      rows.push(...r.rows);
      notes.push(...r.notes);
    } catch (err) {
      failed = true;
      say(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      rows.push({ measurement: name, value: 'ERROR', ratio: '-', target: '-', verdict: 'DID NOT RUN', lost: '-', notes: [(err as Error).message.split('\n')[0]] });
    }
  };
  await attempt('attack-phases', () => benchPhases(s));
  await attempt('attack-alloc', () => benchAlloc(s));
  return { rows, notes, failed };
}
