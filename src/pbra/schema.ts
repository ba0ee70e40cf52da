/**
 * realmgw's own `pbra:` config section (camelCase, strict). `pbra: {}` turns the defences on with Realm
 * Gateway's demo tiers; leaving the section out turns PBRA off. Keys that Realm Gateway's policy file also
 * sets (groups, tiers, proofs, logUntrusted) have no schema default: settings.ts fills them in, so that giving
 * one inline next to `rgwPolicy` can be reported instead of silently shadowed.
 */
import { z } from 'zod';
import { parseCidr } from '../util/cidr.js';
import { DEFAULT_PERIOD_MS } from './model.js';

const share = z.number().min(0).max(1);
const reputation = z.number().min(0).max(1);
const load = z.number().min(0).max(100);

const node = z.string().refine((s) => !('error' in parseCidr(s)), { message: 'must be an IPv4 address or a CIDR block such as 192.0.2.0/24 (no host bits set)' });

const group = z.strictObject({
  /** Shown in the /reputation view and in problems; default `group-<index>`. */
  name: z.string().min(1).optional(),
  /** Resolver addresses or CIDR blocks; a resolver belongs to at most one group. */
  nodes: z.array(node).min(1),
  /** Trusted to name its clients in EDNS Client Subnet (see src/pbra/admission.ts). */
  sla: z.boolean().default(false),
  /** Reputation the group starts from (then it ages toward 0.45 like every party; Realm Gateway's default 0.45). */
  initialReputation: reputation.default(0.45),
});

const tier = z.strictObject({
  /** Pool load range in % (allocated addresses / pool size) where this row applies, ends included. */
  loadMin: load,
  loadMax: load,
  /** Normalised reputation needed for a host name (protocol 0, port 0). */
  fqdnNew: reputation,
  /** ... for a service name on an address no live reservation holds. */
  sfqdnNew: reputation,
  /** ... for a service name on an address already reserved for other flow keys. */
  sfqdnReuse: reputation,
  /** How the group's and the requester's reputations combine: min (both must), max (either may), avg. */
  math: z.enum(['min', 'max', 'avg']),
});

export const pbraSection = z.strictObject({
  /** Realm Gateway's circularpool.policy.yaml, relative to this config file: gives groups, tiers, proofs, logUntrusted. */
  rgwPolicy: z.string().min(1).optional(),
  proofs: z
    .strictObject({
      /** Proofs asked of an unproven UDP query, most preferred first (default cookie, cname, tcp); [] = none. */
      udp: z.array(z.enum(['cookie', 'cname', 'tcp'])).optional(),
      /** Asked of TCP queries as well: [] (default, TCP proves the address) or ['cname']. */
      tcp: z.array(z.literal('cname')).optional(),
      /** An alias follow-up may come over UDP (default true; false = Realm Gateway's TCPCNAME). */
      followUpOverUdp: z.boolean().optional(),
    })
    .optional(),
  /** Count unproven UDP queries against their resolver, creating a probationary group for an unknown one (default false). */
  logUntrusted: z.boolean().optional(),
  cname: z
    .strictObject({
      /** Zone (one of ours) the one-time aliases live in; the gateway chooses one when absent. */
      zone: z.string().min(1).optional(),
      /** How long an alias waits for its follow-up (Realm Gateway: 5 s). */
      windowMs: z.number().int().positive().default(5000),
      /** Aliases pending at once; beyond, the next proof in the list is asked instead. */
      maxPending: z.number().int().positive().default(10_000),
    })
    .default({ windowMs: 5000, maxPending: 10_000 }),
  cookies: z
    .strictObject({
      /** File holding a fixed 16-byte secret (servers behind one address share it); random secrets when absent. */
      secretFile: z.string().min(1).optional(),
      /** How long one secret signs new cookies. */
      rotateMs: z.number().int().positive().default(3_600_000),
    })
    .default({ rotateMs: 3_600_000 }),
  /** Reputation period: each party's score ages one third of the way toward 0.45 at every period change. */
  periodMs: z.number().int().positive().default(DEFAULT_PERIOD_MS),
  groups: z.array(group).optional(),
  tiers: z.array(tier).optional(),
  /** Live reservations one requester may hold: floor(share x pool size), at least 1, at most `max`. */
  requesterBudget: z
    .strictObject({ share: share.default(0.5), max: z.number().int().positive().optional() })
    .default({ share: 0.5 }),
  /** A requester named by EDNS Client Subnet is the client's subnet cut to this prefix length. */
  ecsPrefixIpv4: z.number().int().min(8).max(32).default(24),
  /** Requesters remembered at once (least recently seen forgotten first). */
  maxTrackedRequesters: z.number().int().min(2).default(10_000),
  /** Resolver addresses of unknown groups remembered at once (configured groups are never forgotten). */
  maxTrackedResolvers: z.number().int().min(2).default(10_000),
});

export type PbraSection = z.output<typeof pbraSection>;
