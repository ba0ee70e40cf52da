/**
 * Pure pieces of the attack harness (issue 8): the phases and their rates, how long an attack may run, the
 * spoofer's command line, and how flow results are summed up. No I/O here; test/attack/plan.test.ts covers it.
 */

export const PHASES = ['no-attack', 'spoofed-udp', 'syn-flood', 'aggressive-client'] as const;
export type PhaseName = (typeof PHASES)[number];

export interface PhaseSettings {
  /** legitimate flows per phase */
  flows: number;
  /** legitimate flows started per second */
  legitRate: number;
  /** spoofed UDP queries per second: 50x the legitimate query rate by default */
  spoofedUdpRate: number;
  /** spoofed SYNs per second at the pool addresses */
  synRate: number;
  /** queries per second of the one real aggressive client: 20x the legitimate rate by default */
  aggressiveRate: number;
  /** tries of one legitimate flow (resolve + connect); an application behind a resolver tries again once */
  attempts: number;
}

export const DEFAULT_PHASE_SETTINGS: PhaseSettings = {
  flows: 100,
  legitRate: 10,
  spoofedUdpRate: 500,
  synRate: 2000,
  aggressiveRate: 200,
  attempts: 2,
};

/** Reads RGW_ATTACK_FLOWS, _LEGIT_RATE, _UDP_RATE, _SYN_RATE, _AGGRESSIVE_RATE, _ATTEMPTS; throws on nonsense. */
export function phaseSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, base: PhaseSettings = DEFAULT_PHASE_SETTINGS): PhaseSettings {
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    const x = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(x) || x < min || x > max) throw new Error(`${name} must be an integer in ${min}..${max}, not ${raw}`);
    return x;
  };
  return {
    flows: int('RGW_ATTACK_FLOWS', base.flows, 1, 10_000),
    legitRate: int('RGW_ATTACK_LEGIT_RATE', base.legitRate, 1, 1_000),
    spoofedUdpRate: int('RGW_ATTACK_UDP_RATE', base.spoofedUdpRate, 1, 50_000),
    synRate: int('RGW_ATTACK_SYN_RATE', base.synRate, 1, 50_000),
    aggressiveRate: int('RGW_ATTACK_AGGRESSIVE_RATE', base.aggressiveRate, 1, 20_000),
    attempts: int('RGW_ATTACK_ATTEMPTS', base.attempts, 1, 5),
  };
}

/** Upper bound of one legitimate flow: two resolutions of two stub tries each, then the exchange, per attempt. */
export const FLOW_TIMEOUT_MS = { stubTry: 2000, stubTries: 2, io: 2000 } as const;

export function worstFlowMs(attempts: number): number {
  return attempts * (FLOW_TIMEOUT_MS.stubTry * FLOW_TIMEOUT_MS.stubTries + FLOW_TIMEOUT_MS.io);
}

/**
 * How long the legitimate workload of a phase can take at most (scheduled starts plus the slowest flow), and so
 * how long its attack may run: every attack is bounded in time and count even if nobody stops it.
 */
export function phaseBudget(s: PhaseSettings, attackRate: number): { workloadMs: number; attackSeconds: number; attackCount: number } {
  const workloadMs = Math.ceil((s.flows / s.legitRate) * 1000) + worstFlowMs(s.attempts);
  const attackSeconds = Math.min(600, Math.ceil(workloadMs / 1000) + 10);
  return { workloadMs, attackSeconds, attackCount: Math.ceil(attackRate * attackSeconds) };
}

export interface SpoofJob {
  kind: 'dns' | 'syn';
  dst: readonly string[];
  ports: readonly number[];
  /** dns: names asked in turn */
  names?: readonly string[];
  /** CIDRs the source addresses are drawn from (default: spoof.py's 198.18.0.0/15) */
  sources?: readonly string[];
  rate: number;
  count: number;
  seconds: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const NAME = /^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?$/;

/** Command-line arguments of test/support/attack/spoof.py for a job; throws on a job it would refuse. */
export function spoofArgs(job: SpoofJob): string[] {
  const problems: string[] = [];
  if (job.kind !== 'dns' && job.kind !== 'syn') problems.push(`kind must be dns or syn, not ${String(job.kind)}`);
  if (!job.dst.length || !job.dst.every((a) => IPV4.test(a))) problems.push(`dst must be IPv4 addresses: ${job.dst.join(',')}`);
  if (!job.ports.length || !job.ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) problems.push(`ports must be in 1..65535: ${job.ports.join(',')}`);
  if (job.kind === 'dns' && !(job.names?.length && job.names.every((n) => NAME.test(n)))) problems.push('dns needs names (letters, digits, - and _ labels)');
  if (!(job.rate > 0 && job.rate <= 100_000)) problems.push(`rate must be in (0, 100000]: ${job.rate}`);
  if (!(Number.isInteger(job.count) && job.count > 0 && job.count <= 10_000_000)) problems.push(`count must be in 1..10000000: ${job.count}`);
  if (!(job.seconds > 0 && job.seconds <= 600)) problems.push(`seconds must be in (0, 600]: ${job.seconds}`);
  if (problems.length) throw new Error(`spoof job: ${problems.join('; ')}`);
  const args = [job.kind, '--dst', job.dst.join(','), '--ports', job.ports.join(','), '--rate', String(job.rate), '--count', String(job.count), '--seconds', String(job.seconds)];
  if (job.names?.length) args.push('--names', job.names.join(','));
  if (job.sources?.length) args.push('--sources', job.sources.join(','));
  return args;
}

/** One legitimate flow's outcome as the workload client reports it. */
export interface LegitFlowResult {
  ok: boolean;
  /** why it failed, already a short category (see failureReason) */
  reason?: string;
  /** attempts it took (1 = first try) */
  attempts: number;
}

export interface FlowSummary {
  flows: number;
  ok: number;
  failed: number;
  /** flows that needed more than one attempt but succeeded */
  retried: number;
  /** failure category -> count (of failed flows' last attempt) */
  reasons: Record<string, number>;
}

export function summariseFlows(results: readonly LegitFlowResult[]): FlowSummary {
  const reasons: Record<string, number> = {};
  let ok = 0;
  let retried = 0;
  for (const r of results) {
    if (r.ok) {
      ok++;
      if (r.attempts > 1) retried++;
    } else {
      const why = r.reason ?? 'unknown';
      reasons[why] = (reasons[why] ?? 0) + 1;
    }
  }
  return { flows: results.length, ok, failed: results.length - ok, retried, reasons };
}

/**
 * A short, countable category for a failed step: 'dns: timeout', 'dns: SERVFAIL', 'dns: no address',
 * 'tcp: ECONNREFUSED', 'udp: timeout', ... (free text from sockets is cut to its error code).
 */
export function failureReason(step: 'dns' | 'tcp' | 'udp' | 'icmp', error: string | undefined): string {
  const e = (error ?? 'unknown').trim();
  const code = /^E[A-Z]+$/.test(e) ? e : e.split(/[\s:]/)[0] || 'unknown';
  return `${step}: ${code}`;
}

/** Success in percent with one decimal, as the bench prints it. */
export function percent(ok: number, total: number): string {
  if (total <= 0) return '-';
  return `${((100 * ok) / total).toFixed(1)} %`;
}
