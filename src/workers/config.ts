/**
 * The workers section of the gateway config, as TypeScript (the YAML schema maps onto it), its checks, and the
 * compiled form the registry uses. Durations are milliseconds.
 */
import { isIpv4, parseIpv4 } from '../util/ipv4.js';
import { type ConfigProblem, WorkersConfigError } from './errors.js';
import { type PortRange, portRangeShapeProblems } from './port-range.js';
import { type SecretHash, parseSecretHash } from './secret.js';

export interface WorkerEntry {
  /** A DNS label (`<worker>.<zone>` names it): lowercase letters, digits, hyphens. */
  name: string;
  /** `hashSecret(secret)`; the secret itself is never in the config. */
  secretHash: string;
  /** Overrides the default quota for this worker. */
  quota?: number;
}

export interface WorkersConfig {
  /** Public ports leased to workers, inclusive. */
  ports: PortRange;
  /** The private network between gateway and workers, CIDR. Registrations from elsewhere are refused. */
  privateNetwork: string;
  /** Addresses inside privateNetwork that are never a mapping target (the gateway's own address there). */
  excludedAddresses?: string[];
  /** Default cap on the leases one worker holds. */
  quota: number;
  /** How long a released public port stays unused before it can be leased again. */
  coolDownMs: number;
  /** A worker not heard from for longer than this loses its leases at the next expire(). */
  heartbeatTimeoutMs: number;
  workers: WorkerEntry[];
}

export interface CompiledWorker {
  readonly name: string;
  readonly hash: SecretHash;
  readonly quota: number;
}

export interface CompiledConfig {
  readonly ports: PortRange;
  readonly network: { readonly base: number; readonly mask: number; readonly prefixLength: number; readonly text: string };
  readonly excluded: ReadonlySet<number>;
  readonly coolDownMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly workers: ReadonlyMap<string, CompiledWorker>;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A worker name the config accepts: a DNS label (`realmgw secret --name` checks it before printing). */
export const isWorkerName = (name: string): boolean => LABEL.test(name);

/** Problems that need nothing but the config (the port range against the host: validatePortRange). */
export function checkWorkersConfig(config: WorkersConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const fail = (path: (string | number)[], reason: string) => problems.push({ path, reason });
  for (const p of portRangeShapeProblems(config.ports)) fail(['ports'], p.reason);
  const net = parseCidr(config.privateNetwork);
  if (typeof net === 'string') fail(['privateNetwork'], net);
  (config.excludedAddresses ?? []).forEach((a, i) => {
    if (!isIpv4(a)) fail(['excludedAddresses', i], `${JSON.stringify(a)} is not an IPv4 address`);
  });
  if (!isCount(config.quota)) fail(['quota'], 'must be a whole number >= 0');
  if (!isDuration(config.coolDownMs)) fail(['coolDownMs'], 'must be a finite number of milliseconds >= 0');
  if (!isDuration(config.heartbeatTimeoutMs) || config.heartbeatTimeoutMs === 0) {
    fail(['heartbeatTimeoutMs'], 'must be a finite number of milliseconds > 0');
  }
  const seen = new Set<string>();
  (config.workers ?? []).forEach((w, i) => {
    if (typeof w.name !== 'string' || !LABEL.test(w.name)) {
      fail(['workers', i, 'name'], `${JSON.stringify(w.name)} is not a DNS label (a-z, 0-9, '-', at most 63)`);
    } else if (seen.has(w.name)) {
      fail(['workers', i, 'name'], `worker ${w.name} is listed twice`);
    }
    seen.add(w.name);
    // Never echo the value: an operator may have pasted the secret itself here.
    if (parseSecretHash(w.secretHash) === undefined) fail(['workers', i, 'secretHash'], 'is not a hash made by hashSecret (sha256:<salt>:<digest>)');
    if (w.quota !== undefined && !isCount(w.quota)) fail(['workers', i, 'quota'], 'must be a whole number >= 0');
  });
  if (!Array.isArray(config.workers)) fail(['workers'], 'must be a list');
  return problems;
}

/** Checks and compiles; throws WorkersConfigError with every problem. */
export function compileConfig(config: WorkersConfig): CompiledConfig {
  const problems = checkWorkersConfig(config);
  if (problems.length > 0) throw new WorkersConfigError(problems);
  const workers = new Map<string, CompiledWorker>();
  for (const w of config.workers) {
    workers.set(w.name, Object.freeze({ name: w.name, hash: parseSecretHash(w.secretHash)!, quota: w.quota ?? config.quota }));
  }
  return Object.freeze({
    ports: Object.freeze([config.ports[0], config.ports[1]] as const),
    network: Object.freeze(parseCidr(config.privateNetwork) as Exclude<ReturnType<typeof parseCidr>, string>),
    excluded: new Set((config.excludedAddresses ?? []).map(parseIpv4)),
    coolDownMs: config.coolDownMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    workers,
  });
}

/** Why `address` may not be a mapping target, or undefined when it may. `address` is dotted IPv4. */
export function addressRefusal(config: CompiledConfig, address: string): string | undefined {
  const { base, mask, prefixLength, text } = config.network;
  const n = parseIpv4(address);
  if (((n & mask) >>> 0) !== base) return `${address} is outside the private network ${text}`;
  if (prefixLength <= 30 && (n === base || n === (base | (~mask >>> 0)) >>> 0)) {
    return `${address} is the network or broadcast address of ${text}`;
  }
  if (config.excluded.has(n)) return `${address} is excluded as a mapping target`;
  return undefined;
}

function parseCidr(text: unknown): { base: number; mask: number; prefixLength: number; text: string } | string {
  const m = typeof text === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(text) : null;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (m === null || !isIpv4(m[1]) || !(prefixLength >= 1 && prefixLength <= 32)) {
    return `${JSON.stringify(text)} is not an IPv4 CIDR block such as 10.200.0.0/24`;
  }
  const mask = (0xffffffff << (32 - prefixLength)) >>> 0;
  const base = parseIpv4(m[1]);
  if (((base & mask) >>> 0) !== base) return `${text} has host bits set`;
  return { base, mask, prefixLength, text: text as string };
}

function isCount(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 0;
}

function isDuration(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}
