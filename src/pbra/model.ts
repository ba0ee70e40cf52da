/**
 * PBRA (policy-based resource allocation, Realm Gateway's defence of the circular pool): the settings every
 * part of src/pbra works from, whichever file they were read from (realmgw's own `pbra:` section or Realm
 * Gateway's circularpool.policy.yaml), and the constants of Realm Gateway's reputation model.
 */

/** A way an unproven query proves its source address before it may reserve a pool address. */
export type Proof = 'cookie' | 'cname' | 'tcp';

/** What a query would take from the pool (decided by the caller, see admission.ts). */
export type RequestKind = 'fqdn_new' | 'sfqdn_new' | 'sfqdn_reuse';

export type TierMath = 'min' | 'max' | 'avg';

/** One SYSTEM_LOAD row: at a pool load in [loadMin, loadMax] %, the reputation each kind of request needs. */
export interface Tier {
  loadMin: number;
  loadMax: number;
  fqdnNew: number;
  sfqdnNew: number;
  sfqdnReuse: number;
  /** How the resolver group's and the requester's normalised reputations combine. */
  math: TierMath;
}

export type { Cidr } from '../util/cidr.js';
import type { Cidr } from '../util/cidr.js';

/** A resolver group the operator knows ahead (Realm Gateway's DNS_GROUP_POLICY entry). */
export interface GroupSpec {
  name: string;
  nodes: Cidr[];
  /** Trusted to name its clients: see admission.ts for what this grants. */
  sla: boolean;
  initialReputation: number;
}

export interface PbraSettings {
  /** Where groups, tiers and proofs came from: Realm Gateway's policy file, or undefined for the config. */
  rgwPolicy?: string;
  proofs: {
    /** Proofs asked of a plain UDP query, most preferred first; the caller uses the first one that applies. Empty: UDP allocates unproven. */
    udp: Proof[];
    /** Asked of TCP queries too (Realm Gateway's TCP+CNAME mode); empty: TCP is proof enough. */
    tcp: 'cname'[];
    /** An alias follow-up may come over UDP (false = Realm Gateway's TCPCNAME: every UDP query is truncated). */
    followUpOverUdp: boolean;
  };
  /** Count unproven UDP queries against their resolver, creating a (probationary) group for an unknown one. */
  logUntrusted: boolean;
  cname: { zone?: string; windowMs: number; maxPending: number };
  cookies: { secretFile?: string; rotateMs: number };
  periodMs: number;
  groups: GroupSpec[];
  tiers: Tier[];
  requesterBudget: { share: number; max?: number };
  ecsPrefixIpv4: number;
  maxTrackedRequesters: number;
  maxTrackedResolvers: number;
  /** CIRCULARPOOL.max of Realm Gateway's gateway policy file: read for fidelity; neither it nor realmgw uses it. */
  circularPoolMax?: number;
}

/** Realm Gateway's middle reputation: where unknown parties start and where every score ages toward. */
export const MIDDLE = 0.45;
/** Weights of the current and the previous period in a party's reputation. */
export const WEIGHT_CURRENT = 0.75;
export const WEIGHT_PREVIOUS = 0.25;
/** Realm Gateway's reporting period (its show_dnsgroups task ages every group each 20 s). */
export const DEFAULT_PERIOD_MS = 20_000;

/** Realm Gateway's gwa.demo SYSTEM_LOAD rows: the tiers `pbra: {}` gets. */
export const DEMO_TIERS: readonly Tier[] = [
  { loadMin: 99, loadMax: 100, fqdnNew: 1.0, sfqdnNew: 0.85, sfqdnReuse: 0.75, math: 'min' },
  { loadMin: 66, loadMax: 99, fqdnNew: 0.85, sfqdnNew: 0.65, sfqdnReuse: 0.55, math: 'avg' },
  { loadMin: 33, loadMax: 66, fqdnNew: 0.75, sfqdnNew: 0.45, sfqdnReuse: 0.25, math: 'max' },
  { loadMin: 0, loadMax: 33, fqdnNew: 0.2, sfqdnNew: 0.15, sfqdnReuse: 0.05, math: 'max' },
];

/** What Realm Gateway runs with when its policy file has no SYSTEM_LOAD: everything admitted. */
export const RGW_DEFAULT_TIERS: readonly Tier[] = [{ loadMin: 0, loadMax: 100, fqdnNew: 0, sfqdnNew: 0, sfqdnReuse: 0, math: 'max' }];
