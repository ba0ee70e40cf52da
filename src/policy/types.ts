import type { Problem } from '../errors.js';

/**
 * The subscriber policy model, as loaded from Realm Gateway subscriber YAML. Names are canonical
 * (lowercase, no trailing dot).
 */

/** Protocol numbers a service name may use: 0 any, 1 ICMP, 6 TCP, 17 UDP, 132 SCTP. */
export const SERVICE_PROTOCOLS = [0, 1, 6, 17, 132] as const;

/** A service name (SFQDN): a WAN A query for `fqdn` reserves a pool address for (protocol, port) of the host. */
export interface ServiceName {
  fqdn: string;
  /** 0 = any protocol. */
  protocol: number;
  /** 0 = any port. */
  port: number;
  proxyRequired: boolean;
  carriergrade: boolean;
  /**
   * RealmGateway's loose_packet: 0 = the first flow consumes the reservation (single use); N > 0 = it then admits
   * up to N more new flows, all from the first flow's source; -1 = it admits new flows from that source until its
   * lifetime ends. Only loaded and validated so far: the pool and the data plane still treat every reservation as
   * single use. (Realm Gateway itself bound the remote address and port of the first packet.)
   */
  loosePacket: number;
  /** realmgw extension (`lifetime`, seconds in the file): how long a reservation for this name stays pending. */
  lifetimeMs?: number;
  /** Canonical id of the owning host. */
  hostId: string;
}

export type Direction = 'EGRESS' | 'INGRESS' | 'ANY';
export type RuleTarget = 'ACCEPT' | 'DROP' | 'REJECT';

export interface Ipv4Prefix {
  /** Network address (host bits are zero). */
  address: string;
  prefixLength: number;
}

/** Inclusive port range; a single port has first === last. */
export interface PortRange {
  first: number;
  last: number;
}

/** iptables `hashlimit` match (the only rate limit RealmGateway subscriber files use). */
export interface HashLimit {
  /** `hashlimit-name`: the bucket table's name, at most 15 characters. */
  name: string;
  /** `hashlimit-above` matches traffic over the rate, `hashlimit-upto` traffic within it. */
  mode: 'above' | 'upto';
  /** Packets per `per`. */
  rate: number;
  per: 'second' | 'minute' | 'hour' | 'day';
  /** `hashlimit-burst`; iptables' default is 5 when absent. */
  burst?: number;
  /** `hashlimit-mode`: what the buckets are keyed by; empty = one bucket for the rule. */
  keys: ('srcip' | 'dstip' | 'srcport' | 'dstport')[];
  /** `hashlimit-htable-expire`, milliseconds. */
  expireMs?: number;
}

/** iptables `string` match: packets whose payload contains `bytes`. */
export interface StringMatch {
  algo: 'bm' | 'kmp';
  bytes: number[];
}

/**
 * One subscriber firewall rule (FIREWALL_ADMIN or FIREWALL_USER). Every match present must hold; a missing
 * match means "any". Rules of a chain are kept sorted by `priority`, file order among equals, as RealmGateway
 * installed them.
 */
export interface FirewallRule {
  priority: number;
  /** EGRESS: from the host; INGRESS: to the host; ANY: both. */
  direction: Direction;
  target: RuleTarget;
  /** IP protocol number; absent = any. */
  protocol?: number;
  src?: Ipv4Prefix;
  dst?: Ipv4Prefix;
  /** From the `tcp`/`udp`/`sctp` match of the rule's protocol. */
  sport?: PortRange;
  dport?: PortRange;
  /** From the `icmp` match; `code` absent = any code. */
  icmp?: { type: number; code?: number };
  hashlimit?: HashLimit;
  stringMatch?: StringMatch;
  comment?: string;
  /** Where the rule is written. */
  file: string;
  line: number;
}

export interface SubscriberHost {
  /** Canonical FQDN of the top-level key. */
  id: string;
  /** ID.fqdn, canonical; the first is `id`. Defaults to [id]. */
  fqdns: string[];
  /** The first ID.ipv4: the address the host is registered with. */
  ipv4: string;
  ipv4s: string[];
  msisdn: string[];
  /** GROUP: ipset names the host's address is added to. */
  groups: string[];
  /** CIRCULARPOOL max: at most this many pending reservations; absent = no per-host cap. */
  circularPoolMax?: number;
  /** CARRIERGRADE: addresses a nested gateway may answer with for this host's carriergrade names. */
  carrierGrade: { ipv4: string }[];
  services: ServiceName[];
  firewall: { admin: FirewallRule[]; user: FirewallRule[] };
  /** The file whose entry is in effect. */
  file: string;
}

/** A host entry of a later file replaced an earlier one (RealmGateway merges files at host granularity). */
export interface MergeEvent {
  /** Canonical host id. */
  host: string;
  /** The top-level key as written in the overriding file. */
  key: string;
  /** The overriding file. */
  file: string;
  /** The file whose entry was replaced. */
  overrides: string;
}

export interface PolicySet {
  hosts: Map<string, SubscriberHost>;
  /** Every service name by canonical fqdn (the first host wins if two claim one; crossCheck reports it). */
  services: Map<string, ServiceName>;
  merges: MergeEvent[];
  /**
   * Things an operator should know that do not refuse the files (keys Realm Gateway read and then ignored),
   * shaped like problems so they print the same way; `realmgw check` prints them, `run` logs them.
   */
  warnings: Problem[];
}
