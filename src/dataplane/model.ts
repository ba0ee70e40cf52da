import type { StaticForward } from '../forwards/model.js';
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
  /** Static port forwards (config `forwards:`), installed in the same table; absent: none. */
  forwards?: readonly StaticForward[];
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
/**
 * nfqueue mode, TCP: iptables marks a flow's handshake-completing packet markBase + HANDSHAKE_CHECK_MARK_OFFSET
 * before queueing it (so userspace tells it from a new flow's first packet); userspace accepts it with
 * markBase + HANDSHAKE_OK_MARK_OFFSET once the pool has consumed the reservation (nft then tags the
 * connection consumed), or with the reject mark. Host mark indexes stay below HANDSHAKE_OK_MARK_OFFSET.
 */
export const HANDSHAKE_CHECK_MARK_OFFSET = 0;
export const HANDSHAKE_OK_MARK_OFFSET = 0xfffe;

/**
 * The bits of the conntrack mark realmgw uses to follow a DNATed TCP connection through its handshake (the
 * rest of the ct mark is left as it is): 0 = not ours, a pending tag = DNATed by a reservation that is not
 * consumed yet, CT_TAG_CONSUMED = the handshake completed and consumed it.
 */
export const CT_TAG_MASK = 0x0f000000;
export const CT_TAG_SHIFT = 24;
export const CT_TAG_CONSUMED = 0xf;
/** nfqueue mode's one pending tag (userspace knows which reservation). */
export const NFQUEUE_PENDING_TAG = 1;
