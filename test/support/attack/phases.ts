/**
 * The attack phases of issue 8 as a reusable driver, for test/e2e/attack.test.ts and bench/attack-bench.ts.
 *
 * An AttackBed is one testbed with the gateway (demo config + the caller's overrides, see defences.ts) in gwa,
 * echo servers in hosta and hostb, and in public: Debian's Unbound on 100.64.0.100 for the legitimate clients
 * (without ECS: see RESOLVER_SENDS_ECS in defences.ts), and a
 * second address in another /24, 100.64.3.100, for the aggressive client (another real requester than the
 * resolver). A phase runs a bounded legitimate
 * workload (legit-load.ts: resolve through Unbound, then talk to the host) while its attack runs:
 *
 *   no-attack          nothing else
 *   spoofed-udp        spoofed UDP queries for the service names from random sources (spoof.py dns)
 *   syn-flood          spoofed SYNs from random sources at the pool addresses on the services' ports (spoof.py syn)
 *   aggressive-client  one real client asking the gateway for the service names at N q/s, following TC to TCP
 *
 * and returns the legitimate flows' outcome with the attacker's report and the gateway's /stats around it.
 */
import path from 'node:path';
import { ADDR, POOL, Testbed, type NsProcess } from '../netns.js';
import { startGateway, type GatewayStats, type RunningGateway } from '../gateway.js';
import { DIST_DIR } from '../repo.js';
import { startUnbound } from '../unbound.js';
import { startAggressiveClient, startSpoofer, type AttackReport, type RunningAttack } from './attackers.js';
import { RESOLVER_MORE_ZONES, RESOLVER_SENDS_ECS, type GatewayOverrides } from './defences.js';
import type { LegitFlow, LegitJob } from './legit-load.js';
import { phaseBudget, worstFlowMs, type FlowSummary, type PhaseName, type PhaseSettings } from './plan.js';

export const ZONE = 'gwa.demo';
/** Unbound listens on the public client's own address: queries then come from where the flows come from. */
export const RESOLVER = ADDR.public;
/**
 * The aggressive client's address: its own /24 on the Internet side (added to public, routed there by the
 * router), so per-/24 measures (response-rate limiting, ECS binding) never confuse it with the resolver; and
 * not 100.64.0.101, which Realm Gateway's demo policy names as a zero-reputation resolver: an unknown requester.
 */
export const AGGRESSIVE_ADDRESS = '100.64.3.100';
/** Source ranges of the spoofed packets: the benchmarking range, never a testbed address. */
export const SPOOFED_SOURCES = ['198.18.0.0/15'];

/** What the legitimate clients do, in turn: both hosts, TCP and UDP, fixed-port and any-port names. */
export const LEGIT_MIX: readonly LegitFlow[] = [
  { name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 },
  { name: 'udp.hostb.gwa.demo', proto: 'udp', port: 5001 },
  { name: 'ssh.hostb.gwa.demo', proto: 'tcp', port: 22 },
  { name: 'tcp.hostb.gwa.demo', proto: 'tcp', port: 5000 },
  { name: 'udp.hosta.gwa.demo', proto: 'udp', port: 5001 },
  { name: 'ssh.hosta.gwa.demo', proto: 'tcp', port: 22 },
];
export const SERVICE_NAMES: readonly string[] = LEGIT_MIX.map((f) => f.name);
/** TCP ports of the services: where the spoofed SYNs go. */
export const SERVICE_TCP_PORTS: readonly number[] = [...new Set(LEGIT_MIX.filter((f) => f.proto === 'tcp').map((f) => f.port))];

const LEGIT_JS = path.join(DIST_DIR, 'test', 'support', 'attack', 'legit-load.js');
const FLOW_SERVER_JS = path.join(DIST_DIR, 'test', 'support', 'flow-server.js');

export interface LegitSummary extends FlowSummary {
  seconds: number;
  firstFailures: unknown[];
}

export interface PhaseResult extends LegitSummary {
  phase: PhaseName;
  /** the attacker's own report (what it sent, at what rate); absent in the no-attack phase */
  attack?: AttackReport;
  statsBefore: GatewayStats;
  statsAfter: GatewayStats;
  /** packets gwa's WAN interface received during the phase (legitimate and attack) */
  wanRxPackets: number;
  /** the attacker ran out of its budget before the workload ended (the phase's tail saw no attack) */
  attackEndedEarly: boolean;
}

export interface AttackBedOptions {
  /** gateway config merged over the demo's (the defences: see defences.ts) */
  overrides?: GatewayOverrides;
  /** Unbound sends ECS to the gateway (default RESOLVER_SENDS_ECS, see defences.ts) */
  ecs?: boolean | 'auto';
}

/** Does the gateway echo ECS? A TCP query (proven, allocates nothing) for the zone's SOA with our client subnet. */
async function gatewayEchoesEcs(tb: Testbed): Promise<boolean> {
  const r = await tb.exec('public', 'dig', ['+tcp', '+tries=1', '+time=3', `+subnet=${ADDR.public.replace(/\.\d+$/, '.0')}/24`, `@${ADDR.gwaWan}`, ZONE, 'SOA']);
  return r.code === 0 && /CLIENT-SUBNET: /.test(r.stdout);
}

export class AttackBed {
  private constructor(
    readonly tb: Testbed,
    public gw: RunningGateway,
    public unbound: NsProcess,
    private readonly ecs: boolean,
  ) {}

  private static startResolver(tb: Testbed, ecs: boolean): Promise<NsProcess> {
    return startUnbound(tb, 'public', RESOLVER, ZONE, ADDR.gwaWan, { ecs, outgoing: ADDR.public, moreZones: RESOLVER_MORE_ZONES });
  }

  static async up(opts: AttackBedOptions = {}): Promise<AttackBed> {
    const tb = await Testbed.up();
    try {
      for (const host of ['hosta', 'hostb'] as const) {
        const p = tb.spawn(host, process.execPath, [FLOW_SERVER_JS, '--name', host, '--tcp', '22,80,5000', '--udp', '5001']);
        await p.ready('listening');
      }
      await tb.exec('public', 'ip', ['addr', 'add', `${AGGRESSIVE_ADDRESS}/32`, 'dev', 'eth0'], { check: true });
      await tb.exec('router', 'ip', ['route', 'add', `${AGGRESSIVE_ADDRESS.replace(/\.\d+$/, '.0')}/24`, 'via', ADDR.public], { check: true });
      const gw = await startGateway(tb, opts.overrides ?? {});
      const want = opts.ecs ?? RESOLVER_SENDS_ECS;
      const ecs = want === 'auto' ? await gatewayEchoesEcs(tb) : want;
      return new AttackBed(tb, gw, await AttackBed.startResolver(tb, ecs), ecs);
    } catch (err) {
      await tb.down();
      throw err;
    }
  }

  async down(): Promise<void> {
    await this.tb.down();
  }

  /** Stops the gateway and starts it again with other overrides (same testbed, Unbound, servers). */
  async restartGateway(overrides: GatewayOverrides): Promise<void> {
    await this.gw.proc.stop('SIGTERM', 10_000);
    this.gw = await startGateway(this.tb, overrides);
  }

  /** Whether Unbound sends ECS to the gateway in this testbed. */
  get resolverSendsEcs(): boolean {
    return this.ecs;
  }

  /**
   * A cold resolver: Unbound keeps what a phase taught it (a SERVFAIL is cached for 5 s after a silent
   * gateway, the server's RTT and timeouts), and that must not be charged to the next phase.
   */
  async restartResolver(): Promise<void> {
    await this.unbound.stop('SIGTERM', 5_000);
    this.unbound = await AttackBed.startResolver(this.tb, this.ecs);
  }

  /** Packets received so far on gwa's WAN interface. */
  async wanRxPackets(): Promise<number> {
    const r = await this.tb.exec('gwa', 'ip', ['-s', '-j', 'link', 'show', 'wan0'], { check: true });
    const [link] = JSON.parse(r.stdout) as { stats64: { rx: { packets: number } } }[];
    return link.stats64.rx.packets;
  }

  /** Waits until no reservation is pending (the previous phase's have expired or been used); bounded. */
  async poolIdle(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.gw.stats();
      if (s.pool.live === 0) return;
      if (Date.now() > deadline) throw new Error(`pool still holds ${s.pool.live} reservations after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The legitimate workload alone: `flows` flows through Unbound at `legitRate`. */
  async legit(s: PhaseSettings): Promise<LegitSummary> {
    // Enough flows in flight that the cap never delays a start, even when every flow takes its longest: the
    // schedule stays open-loop and the workload stays inside the attack's time budget.
    const concurrency = Math.ceil((s.legitRate * worstFlowMs(s.attempts)) / 1000) + 1;
    const job: LegitJob = { resolver: { server: RESOLVER }, mix: [...LEGIT_MIX], count: s.flows, rate: s.legitRate, concurrency, attempts: s.attempts };
    const { workloadMs } = phaseBudget(s, 0);
    const r = await this.tb.exec('public', process.execPath, [LEGIT_JS], { input: JSON.stringify(job), timeoutMs: workloadMs + 30_000 });
    if (r.code !== 0) throw new Error(`legit-load failed (${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`);
    return JSON.parse(r.stdout) as LegitSummary;
  }

  /** Starts the attack of a phase (undefined for no-attack), bounded by the phase's budget. */
  async startAttack(phase: PhaseName, s: PhaseSettings): Promise<RunningAttack | undefined> {
    switch (phase) {
      case 'no-attack':
        return undefined;
      case 'spoofed-udp': {
        const b = phaseBudget(s, s.spoofedUdpRate);
        return startSpoofer(this.tb, 'public', { kind: 'dns', dst: [ADDR.gwaWan], ports: [53], names: SERVICE_NAMES, sources: SPOOFED_SOURCES, rate: s.spoofedUdpRate, count: b.attackCount, seconds: b.attackSeconds });
      }
      case 'syn-flood': {
        const b = phaseBudget(s, s.synRate);
        return startSpoofer(this.tb, 'public', { kind: 'syn', dst: POOL, ports: SERVICE_TCP_PORTS, sources: SPOOFED_SOURCES, rate: s.synRate, count: b.attackCount, seconds: b.attackSeconds });
      }
      case 'aggressive-client': {
        const b = phaseBudget(s, s.aggressiveRate);
        return startAggressiveClient(this.tb, 'public', { server: ADDR.gwaWan, bind: AGGRESSIVE_ADDRESS, names: [...SERVICE_NAMES], rate: s.aggressiveRate, count: b.attackCount, seconds: b.attackSeconds });
      }
    }
  }

  /** One phase: its attack running while the legitimate workload runs; the pool idle and the resolver cold before. */
  async runPhase(phase: PhaseName, s: PhaseSettings): Promise<PhaseResult> {
    await this.poolIdle();
    await this.restartResolver();
    const statsBefore = await this.gw.stats();
    const rxBefore = await this.wanRxPackets();
    const attack = await this.startAttack(phase, s);
    let legit: LegitSummary;
    let report: AttackReport | undefined;
    try {
      legit = await this.legit(s);
    } finally {
      report = await attack?.stop();
    }
    const wanRxPackets = (await this.wanRxPackets()) - rxBefore;
    await this.poolIdle();
    const statsAfter = await this.gw.stats();
    const attackEndedEarly = report !== undefined && report.seconds < legit.seconds;
    return { phase, ...legit, attack: report, statsBefore, statsAfter, wanRxPackets, attackEndedEarly };
  }
}
