import type { FirewallRule } from '../policy/index.js';

/**
 * Everything the kernel state is rendered from, derived from config and policies by `buildDataplaneModel`.
 * Renderers are pure functions of this model; nothing here touches the kernel.
 */
export interface DataplaneModel {
  /** nft table (family ip) realmgw owns; all its nft state lives here. */
  table: string;
  /** Prefix of every iptables chain and ipset realmgw owns, e.g. "RGW" -> chain RGW-QUEUE, ipset rgw-pool. */
  prefix: string;
  confirm: 'nfqueue' | 'nftset';
  queue: { num: number; bypass: boolean };
  unmatched: 'reject' | 'drop';
  wanInterface: string;
  lanInterface: string;
  /** CIDR of the realm. */
  lanNetwork: string;
  serviceAddress: string;
  /** Dotted quads. */
  poolAddresses: string[];
  /** Marks: markBase + host.markIndex selects the DNAT target; markBase + 0xffff means "reject". */
  markBase: number;
  hosts: DataplaneHost[];
  /** GROUP name -> member addresses; each becomes an ipset. */
  groups: Map<string, string[]>;
}

export interface DataplaneHost {
  id: string;
  ipv4: string;
  /** 1-based, stable for the life of the process: the mark that DNATs to this host is markBase + markIndex. */
  markIndex: number;
  groups: string[];
  firewall: { admin: FirewallRule[]; user: FirewallRule[] };
}

export const REJECT_MARK_OFFSET = 0xffff;
