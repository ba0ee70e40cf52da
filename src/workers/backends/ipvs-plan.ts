/**
 * What the ipvs backend does to the kernel, decided without touching it: ipvsadm argument lists for leases,
 * each step paired with its undo (IPVS has no transactions, so a failed diff is rolled back step by step),
 * which services in the kernel are realmgw's, and counters per lease. Pure.
 *
 * Ownership: IPVS services carry no comment or owner, so realmgw's are recognised by contract, never by a
 * list kept on the side that a crash could lose: a TCP/UDP service on the public address, on a port of the
 * configured lease range, shaped exactly as this module installs them (wrr, no persistence or other
 * options, real servers only in masquerade mode). The range is realmgw's by configuration (validated against
 * the gateway's other ports), so anything there is a leftover of an earlier run; a service there of another
 * shape is left alone and reported (a lease on its port then fails and is rolled back). Everything else —
 * other addresses, other ports, fwmark and SCTP services — is never touched, and nothing is ever flushed.
 */
import type { ErrorCode } from '../../errors/catalogue.js';
import { errorMessage } from '../../errors/realmgw-error.js';
import type { Counters } from '../accounting.js';
import type { Lease, LeaseDiff, Protocol } from '../lease.js';
import type { PortRange } from '../port-range.js';
import { isIpv4, parseIpv4 } from '../../util/ipv4.js';
import { leaseId } from '../mapping-backend.js';
import type { IpvsService, IpvsServiceStats } from './ipvs-parse.js';

export const IPVS_SCHEDULER = 'wrr';
export const IPVS_WEIGHT = 100;

/** Where realmgw's IPVS services live and where they may point. */
export interface IpvsScope {
  readonly publicAddress: string;
  readonly privateAddress: string;
  /** CIDR, e.g. 10.9.0.0/24. */
  readonly privateNetwork: string;
  readonly ports: PortRange;
}

export type IpvsArgs = readonly string[];

/** One ipvsadm call and the calls that undo it, in order. */
export interface IpvsStep {
  readonly run: IpvsArgs;
  readonly undo: readonly IpvsArgs[];
}

export type IpvsErrorCode = Extract<ErrorCode, 'RGW_IPVS_CONFIG' | 'RGW_IPVS_BAD_DIFF' | 'RGW_IPVS_UNAVAILABLE' | 'RGW_IPVS_APPLY' | 'RGW_IPVS_ROLLBACK' | 'RGW_IPVS_STATE'>;

export class IpvsBackendError extends Error {
  constructor(
    readonly code: IpvsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(errorMessage(code, { reason: message }), options);
    this.name = 'IpvsBackendError';
  }
}

function parseCidr(cidr: string): { base: number; mask: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) return undefined;
  const len = Number(m[2]);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (parseIpv4(m[1]) & mask) >>> 0, mask };
}

function inCidr(address: string, cidr: string): boolean {
  const net = parseCidr(cidr);
  return net !== undefined && isIpv4(address) && ((parseIpv4(address) & net.mask) >>> 0) === net.base;
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Every problem with the backend's options (empty when usable). */
export function scopeProblems(scope: IpvsScope): string[] {
  const out: string[] = [];
  if (!isIpv4(scope.publicAddress)) out.push(`publicAddress ${JSON.stringify(scope.publicAddress)} is not an IPv4 address`);
  if (!parseCidr(scope.privateNetwork)) out.push(`privateNetwork ${JSON.stringify(scope.privateNetwork)} is not an IPv4 CIDR`);
  else if (!inCidr(scope.privateAddress, scope.privateNetwork)) out.push(`privateAddress ${JSON.stringify(scope.privateAddress)} is not inside ${scope.privateNetwork}`);
  const [lo, hi] = scope.ports ?? [];
  if (!validPort(lo) || !validPort(hi) || lo > hi) out.push(`ports ${JSON.stringify(scope.ports)} is not a range [start, end] of ports`);
  return out;
}

/** Every reason the backend must not map `lease` (empty when it may). */
export function leaseProblems(lease: Lease, scope: IpvsScope): string[] {
  const id = `${String(lease.protocol)}/${String(lease.publicPort)}`;
  const out: string[] = [];
  if (lease.protocol !== 'tcp' && lease.protocol !== 'udp') out.push(`${id}: protocol must be tcp or udp`);
  if (!validPort(lease.publicPort) || lease.publicPort < scope.ports[0] || lease.publicPort > scope.ports[1]) {
    out.push(`${id}: public port outside the lease range ${scope.ports[0]}-${scope.ports[1]}`);
  }
  if (!validPort(lease.target.port)) out.push(`${id}: target port ${String(lease.target.port)} is not a port`);
  if (!inCidr(lease.target.address, scope.privateNetwork)) {
    out.push(`${id}: target ${JSON.stringify(lease.target.address)} is outside the private network ${scope.privateNetwork}`);
  } else if (lease.target.address === scope.privateAddress) {
    out.push(`${id}: target ${lease.target.address} is the gateway itself`);
  }
  return out;
}

function serviceFlag(protocol: Protocol): string {
  return protocol === 'tcp' ? '-t' : '-u';
}

function serviceArgs(lease: Lease, publicAddress: string): [string, string] {
  return [serviceFlag(lease.protocol), `${publicAddress}:${lease.publicPort}`];
}

function realArgs(lease: Lease): [string, string] {
  return ['-r', `${lease.target.address}:${lease.target.port}`];
}

export function addServiceArgs(lease: Lease, publicAddress: string): IpvsArgs {
  return ['-A', ...serviceArgs(lease, publicAddress), '-s', IPVS_SCHEDULER];
}

export function addRealArgs(lease: Lease, publicAddress: string): IpvsArgs {
  return ['-a', ...serviceArgs(lease, publicAddress), ...realArgs(lease), '-m', '-w', String(IPVS_WEIGHT)];
}

export function deleteServiceArgs(lease: Lease, publicAddress: string): IpvsArgs {
  return ['-D', ...serviceArgs(lease, publicAddress)];
}

/** Deleting a service found in the kernel (a leftover), by its printed identity. */
export function deleteSavedServiceArgs(service: IpvsService): IpvsArgs {
  return ['-D', ...service.spec];
}

/** Mapping a lease takes two calls (service, then its real server); each is undone on its own. */
export function addSteps(lease: Lease, publicAddress: string): IpvsStep[] {
  return [
    { run: addServiceArgs(lease, publicAddress), undo: [deleteServiceArgs(lease, publicAddress)] },
    { run: addRealArgs(lease, publicAddress), undo: [['-d', ...serviceArgs(lease, publicAddress), ...realArgs(lease)]] },
  ];
}

/** Deleting the service takes its real server with it; undoing it recreates both. */
export function removeSteps(lease: Lease, publicAddress: string): IpvsStep[] {
  return [{ run: deleteServiceArgs(lease, publicAddress), undo: [addServiceArgs(lease, publicAddress), addRealArgs(lease, publicAddress)] }];
}

export interface DiffPlan {
  readonly steps: readonly IpvsStep[];
  /** The mapped leases once every step has run. */
  readonly next: ReadonlyMap<string, Lease>;
}

function sameLease(a: Lease, b: Lease): boolean {
  return a.protocol === b.protocol && a.publicPort === b.publicPort && a.target.address === b.target.address && a.target.port === b.target.port;
}

/**
 * The steps for `diff` against the leases currently mapped (every remove, then every add). A diff that
 * removes what is not mapped, adds what is, repeats a lease or breaks a lease rule is refused whole, before
 * any step, with every problem named.
 */
export function planDiff(mapped: ReadonlyMap<string, Lease>, diff: LeaseDiff, scope: IpvsScope): DiffPlan {
  const problems: string[] = [];
  const next = new Map(mapped);
  for (const lease of diff.remove) {
    const id = leaseId(lease);
    const held = next.get(id);
    if (!held) problems.push(`remove ${id}: not mapped`);
    else if (!sameLease(held, lease)) problems.push(`remove ${id}: mapped to ${held.target.address}:${held.target.port}, not ${lease.target.address}:${lease.target.port}`);
    else next.delete(id);
  }
  for (const lease of diff.add) {
    const id = leaseId(lease);
    problems.push(...leaseProblems(lease, scope).map((p) => `add ${p}`));
    if (next.has(id)) problems.push(`add ${id}: already mapped`);
    else next.set(id, lease);
  }
  if (problems.length) throw new IpvsBackendError('RGW_IPVS_BAD_DIFF', `diff refused, nothing changed: ${problems.join('; ')}`);
  const steps = [
    ...diff.remove.flatMap((l) => removeSteps(l, scope.publicAddress)),
    ...diff.add.flatMap((l) => addSteps(l, scope.publicAddress)),
  ];
  return { steps, next };
}

export type Ownership = 'ours' | 'foreign-in-range' | 'elsewhere';

/** Whether a service in the kernel is realmgw's (see the module comment). */
export function ownership(service: IpvsService, scope: IpvsScope): Ownership {
  const { protocol, address, port } = service;
  if ((protocol !== 'tcp' && protocol !== 'udp') || address !== scope.publicAddress || port === undefined) return 'elsewhere';
  if (port < scope.ports[0] || port > scope.ports[1]) return 'elsewhere';
  const shaped = service.scheduler === IPVS_SCHEDULER && service.options.length === 0 && service.reals.every((r) => r.forwarding === 'masq');
  return shaped ? 'ours' : 'foreign-in-range';
}

/** Whether the kernel's service is exactly what mapping `lease` installs (so a restart may keep it). */
export function serviceMatches(service: IpvsService, lease: Lease, scope: IpvsScope): boolean {
  const [flag, target] = serviceArgs(lease, scope.publicAddress);
  const [real] = service.reals;
  return (
    service.spec[0] === flag &&
    service.spec[1] === target &&
    ownership(service, scope) === 'ours' &&
    service.reals.length === 1 &&
    real.address === lease.target.address &&
    real.port === lease.target.port &&
    real.weight === IPVS_WEIGHT
  );
}

export interface StartPlan {
  /** Leftovers of ours that are not wanted as they are: deleted first. */
  readonly stale: readonly IpvsService[];
  /** Leases already in the kernel exactly as wanted: kept, with their connections and counters. */
  readonly kept: readonly Lease[];
  /** Leases to map. */
  readonly add: readonly Lease[];
  /** Services in the lease range that are not ours: reported, never touched. */
  readonly foreign: readonly IpvsService[];
}

/** How to get from what the kernel holds to exactly `leases` of ours (leases already checked). */
export function planStart(saved: readonly IpvsService[], leases: readonly Lease[], scope: IpvsScope): StartPlan {
  const stale: IpvsService[] = [];
  const foreign: IpvsService[] = [];
  const kept: Lease[] = [];
  const pending = new Map(leases.map((l) => [leaseId(l), l]));
  for (const service of saved) {
    const own = ownership(service, scope);
    if (own === 'foreign-in-range') foreign.push(service);
    if (own !== 'ours') continue;
    const wanted = [...pending.values()].find((l) => serviceMatches(service, l, scope));
    if (wanted) {
      kept.push(wanted);
      pending.delete(leaseId(wanted));
    } else {
      stale.push(service);
    }
  }
  return { stale, kept, add: [...pending.values()], foreign };
}

/** Startup's own checks on the restored leases: each lease rule, and one lease per public port and protocol. */
export function restoredLeaseProblems(leases: readonly Lease[], scope: IpvsScope): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const lease of leases) {
    out.push(...leaseProblems(lease, scope));
    const id = leaseId(lease);
    if (seen.has(id)) out.push(`${id}: leased twice`);
    seen.add(id);
  }
  return out;
}

/** Counters of the mapped leases, from the service totals; a lease missing in the kernel is left out. */
export function countersByLease(stats: readonly IpvsServiceStats[], mapped: ReadonlyMap<string, Lease>, publicAddress: string): Map<string, Counters> {
  const byKey = new Map(stats.map((s) => [`${s.protocol}/${s.address}:${s.port}`, s.counters]));
  const out = new Map<string, Counters>();
  for (const [id, lease] of mapped) {
    const c = byKey.get(`${lease.protocol}/${publicAddress}:${lease.publicPort}`);
    if (c) out.set(id, c);
  }
  return out;
}
