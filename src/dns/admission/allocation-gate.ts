/**
 * Who may reserve a pool address, decided per WAN query that would allocate: first a proof of the requester's
 * address (address-proof.ts; unproven UDP queries get a small challenge instead, never a reservation), then
 * the reputation and load tiers of PBRA and the per-requester budget (the `Admission` given), then the
 * reservation is bound to the client subnet when the query carries EDNS Client Subnet.
 *
 * The gate also learns how each reservation ends (consumed = good, expired unused = bad) and feeds it back,
 * and keeps the count of live reservations per requester for the budget. Its memory is bounded by the
 * number of live reservations plus the (bounded) alias table.
 */
import type { Reservation, ReleaseReason } from '../../pool/circular-pool.js';
import { RequesterHoldings, requestKind, type Party, type Pbra } from '../../pbra/index.js';
import { parseIpv4 } from '../../util/ipv4.js';
import { maskOf } from '../../util/cidr.js';
import { checkServerCookie, cookieOption, makeServerCookie, type CookieCheck } from '../proof/cookies.js';
import type { CookieSecrets } from '../proof/cookie-secrets.js';
import type { AliasChallenges, AliasGrant } from '../proof/alias-challenges.js';
import { ALIAS_LABEL_LENGTH } from '../proof/alias-challenges.js';
import { badCookieReply, cnameChallengeReply, cnameChallengeSize, maxUnprovenReply, truncatedReply } from '../proof/challenge-replies.js';
import type { Query } from '../wire/parse-query.js';
import { challengeFor, proofOf, type Challenge, type ProofKind, type ProofPolicy } from './address-proof.js';

export type RefusalReason = 'tier' | 'budget';

export interface GateStats {
  challenges: { [c in Challenge]: number };
  proofs: { [p in ProofKind]: number };
  refused: { unproven: number; tier: number; budget: number };
  cookiesInvalid: number;
  aliasesUnknown: number;
  bound: number;
}

export interface AllocationGateOptions {
  policy: ProofPolicy;
  cookies?: CookieSecrets;
  aliases?: AliasChallenges;
  /** Reputation, load tiers and requester budget; absent: every proven requester may reserve. */
  pbra?: Pbra;
  /** Reservations bound to at most this prefix of the ECS address (finer ECS prefixes are widened to it). */
  ecsPrefixLength?: number;
  udpPayloadSize: number;
  /** Monotonic ms (alias windows, reputation periods). */
  now: () => number;
  /** Wall-clock seconds (cookie timestamps must agree between servers and restarts). */
  wallSeconds: () => number;
  poolSize: () => number;
  /** Live reservations, for the load tiers. */
  poolLive: () => number;
  /** Whether the address the next reservation for this key would get already holds others. */
  wouldShare: (key: { protocol: number; port: number }) => boolean;
}

export type GateVerdict =
  | { kind: 'challenge'; reply: Buffer }
  | { kind: 'refuse'; reason: RefusalReason }
  | { kind: 'admit'; ticket: Ticket };

export interface Ticket {
  /** The query's parties in PBRA (resolver group, requester), when PBRA is on. */
  party?: Party;
  source?: { network: number; prefixLength: number };
  proof: ProofKind | 'none';
}

export interface GateRequest {
  query: Query;
  packet: Buffer;
  transport: 'udp' | 'tcp';
  client: string;
  /** The question to remember for a CNAME challenge (the service name and type). */
  qname: string;
  qtype: number;
  key: { protocol: number; port: number };
  /** Set when the query is the follow-up to this alias grant. */
  alias?: AliasGrant;
}

export class AllocationGate {
  readonly stats: GateStats = {
    challenges: { badcookie: 0, cname: 0, tc: 0 },
    proofs: { tcp: 0, cookie: 0, cname: 0 },
    refused: { unproven: 0, tier: 0, budget: 0 },
    cookiesInvalid: 0,
    aliasesUnknown: 0,
    bound: 0,
  };
  private readonly holdings = new RequesterHoldings();

  constructor(private readonly opts: AllocationGateOptions) {}

  get aliases(): AliasChallenges | undefined {
    return this.opts.aliases;
  }

  /** The COOKIE option payload for an answer to `query` from `client` (a fresh server cookie), if any. */
  cookieFor(query: Query, client: string): Buffer | undefined {
    const c = query.edns?.cookie;
    if (!c || !this.opts.cookies) return undefined;
    const key = this.opts.cookies.at(this.opts.now())[0]!;
    return cookieOption(c.client, makeServerCookie(key, c.client, ipBytes(client), this.opts.wallSeconds()));
  }

  check(req: GateRequest): GateVerdict {
    const now = this.opts.now();
    const { pbra, policy } = this.opts;
    const cookie = this.cookieCheck(req.query, req.client);
    if (cookie?.kind === 'invalid') this.stats.cookiesInvalid++;
    const proof = proofOf(policy, { transport: req.transport, cookie, aliasFollowUp: req.alias !== undefined });
    // PBRA takes the resolver as a number: parse the address once per query, not in each call.
    const resolver = pbra ? parseIpv4(req.client.startsWith('::ffff:') ? req.client.slice(7) : req.client) : 0;
    if (!proof && (policy.required || (req.transport === 'tcp' && policy.tcpCname))) {
      pbra?.untrusted(resolver, now);
      this.stats.refused.unproven++;
      const reply = this.challenge(req, now);
      return reply ? { kind: 'challenge', reply } : { kind: 'refuse', reason: 'tier' };
    }
    if (proof) {
      this.stats.proofs[proof]++;
      if (req.alias) pbra?.followUp({ issuedTo: req.alias.resolver, from: resolver, fromProven: req.transport === 'tcp' || cookie?.kind === 'valid' }, now);
    }
    // Binding restricts only the reservation of whoever names the subnet, so any resolver's ECS is honoured
    // for it; who the *requester* is (reputation, budget) PBRA decides, believing ECS from sla groups only.
    const source = ecsSource(req.query, this.opts.ecsPrefixLength ?? 24);
    if (!pbra) return { kind: 'admit', ticket: { source, proof: proof ?? 'none' } };
    // a proven query counts as trusted on its resolver's group (identify does it in the same lookup)
    const party = pbra.identify({ resolver, ecs: req.query.edns?.clientSubnet, proven: proof !== undefined, trusted: proof !== undefined }, now);
    const size = this.opts.poolSize();
    const verdict = pbra.admit(
      {
        party,
        kind: requestKind(req.key, this.opts.wouldShare(req.key)),
        loadPercent: Math.min(100, (100 * this.opts.poolLive()) / size),
        requesterHeld: this.holdings.held(party),
        poolSize: size,
      },
      now,
    );
    if (!verdict.ok) {
      this.stats.refused[verdict.reason]++;
      return { kind: 'refuse', reason: verdict.reason };
    }
    return { kind: 'admit', ticket: { party, source, proof: proof ?? 'none' } };
  }

  /** The `/reputation` view (groups, members, SLA, current and previous reputation), when PBRA is on. */
  view(requesters = 20): (ReturnType<Pbra['view']> & { tiers: Pbra['settings']['tiers'] }) | undefined {
    const pbra = this.opts.pbra;
    return pbra && { ...pbra.view(this.opts.now(), { requesters }), tiers: pbra.settings.tiers };
  }

  /** A reservation was made for an admitted ticket (its party rides along as the reservation's `owner`). */
  reserved(r: Reservation, ticket: Ticket): void {
    if (r.source) this.stats.bound++;
    if (ticket.party) this.holdings.add(ticket.party);
  }

  /** Every reservation's end, from the pool: consumed counts good for its requester, expiring unused bad. */
  released(r: Reservation, why: ReleaseReason): void {
    const party = r.owner as Party | undefined;
    if (!party) return;
    this.holdings.remove(party);
    const pbra = this.opts.pbra!;
    const now = this.opts.now();
    if (why === 'consumed') pbra.used(party, now);
    else if (why === 'expired') pbra.expired(party, now);
    else pbra.neutral(party, now);
  }

  private cookieCheck(query: Query, client: string): CookieCheck | undefined {
    const c = query.edns?.cookie;
    if (!c || !this.opts.cookies) return undefined;
    return checkServerCookie(this.opts.cookies.at(this.opts.now()), c.client, c.server, ipBytes(client), this.opts.wallSeconds());
  }

  private challenge(req: GateRequest, now: number): Buffer | undefined {
    const { query, packet } = req;
    const cookie = this.cookieFor(query, req.client);
    const base = { udpPayloadSize: this.opts.udpPayloadSize, cookie };
    const bound = maxUnprovenReply(packet.length);
    const aliases = this.opts.aliases;
    const overTcp = req.transport === 'tcp';
    // asked only when the CNAME is next in line; its size is known before an alias is spent (fixed label length)
    const cnameFits = () => !!aliases && (overTcp || cnameChallengeSize(query, ALIAS_LABEL_LENGTH, aliases.zone, base) <= bound);
    const chosen = challengeFor(this.opts.policy, { transport: req.transport, hasClientCookie: cookie !== undefined, cnameFits });
    if (chosen === 'cname') {
      const label = aliases!.issue({ qname: req.qname, qtype: req.qtype, resolver: req.client }, now);
      if (label) {
        this.stats.challenges.cname++;
        return cnameChallengeReply(query, label, aliases!.zone, base);
      }
    }
    if (overTcp) return undefined; // the alias table is full: nothing smaller to ask of a TCP client
    if (chosen === 'badcookie' && cookie) {
      this.stats.challenges.badcookie++;
      return badCookieReply(query, { ...base, cookie });
    }
    this.stats.challenges.tc++;
    return truncatedReply(query, base);
  }
}

/** The client subnet of the query's ECS (IPv4), widened to at most `maxPrefix`, to bind a reservation to. */
export function ecsSource(query: Query, maxPrefix: number): { network: number; prefixLength: number } | undefined {
  const ecs = query.edns?.clientSubnet;
  if (!ecs || ecs.sourcePrefix === 0) return undefined; // prefix 0: the client asked not to be located
  const prefixLength = Math.min(ecs.sourcePrefix, maxPrefix);
  return { network: (ecs.address & maskOf(prefixLength)) >>> 0, prefixLength };
}

function ipBytes(address: string): Buffer {
  const parts = address.startsWith('::ffff:') ? address.slice(7).split('.') : address.split('.');
  return Buffer.from(parts.map(Number));
}
