/**
 * What the gateway needs from a kernel backend that maps leased public ports to workers (nftables or IPVS).
 * The registry decides (pure); a backend only carries out LeaseDiffs and reads counters, so both backends pass
 * the same behavioural tests.
 */
import type { Drift } from '../dataplane/kernel-verify.js';
import type { Runner } from '../dataplane/runner.js';
import type { Counters } from './accounting.js';
import type { Lease, LeaseDiff } from './lease.js';

export interface MappingBackendOptions {
  /** The gateway's public address: the destination clients connect to (address of every lease). */
  publicAddress: string;
  /**
   * The gateway's own address on the private network: forwarded packets leave with this source (FULL-NAT),
   * so a worker's replies come back through the gateway whatever its default route is.
   */
  privateAddress: string;
  /** CIDR of the private network between gateway and workers; targets outside it are refused by the backend too. */
  privateNetwork: string;
  /** Run inside this network namespace (`ip netns exec`); tests only. */
  netns?: string;
  /** Who runs the kernel commands (default: the real tools, in `netns`); unit tests pass the fake kernel. */
  runner?: Runner;
}

export interface MappingBackend {
  readonly kind: 'nftables' | 'ipvs';
  /**
   * Installs the backend's fixed state (replacing realmgw's own leftovers from a killed run, touching nothing
   * else), then maps `leases` (the registry's restored leases). Throws, leaving nothing installed, on failure.
   */
  start(leases: readonly Lease[]): Promise<void>;
  /**
   * Applies one diff: every `remove` first, then every `add`. All or nothing where the kernel allows it (nft:
   * one transaction); otherwise a failed diff is rolled back before the error is thrown, so the kernel holds
   * exactly the mappings it held before the call.
   */
  apply(diff: LeaseDiff): Promise<void>;
  /** Absolute counters per mapped lease, keyed by leaseId(). */
  counters(): Promise<Map<string, Counters>>;
  /**
   * Drift: what of the state start() installed is no longer there or was changed (which leases are mapped
   * never counts: that is the registry's business). Empty before start.
   */
  verify(): Promise<Drift[]>;
  /**
   * Drift repair: puts back what verify() found missing, so that exactly `leases` are mapped; the caller runs
   * it alone among apply() calls. nftables: the table again, with every lease (start's one transaction).
   * IPVS: the SNAT chain and its jump (iptables-nft's, which a flush of the ruleset removes; the virtual
   * services themselves live outside nf_tables).
   */
  repair(leases: readonly Lease[]): Promise<void>;
  /** Removes everything the backend installed. Idempotent. */
  stop(): Promise<void>;
}

/** `tcp/32898`: a lease's identity on the gateway (a public port is held by at most one lease per protocol). */
export function leaseId(lease: Pick<Lease, 'protocol' | 'publicPort'>): string {
  return `${lease.protocol}/${lease.publicPort}`;
}
