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
import { checkServerCookie, cookieOption, makeServerCookie, type CookieCheck } from '../proof/cookies.js';
import type { CookieSecrets } from '../proof/cookie-secrets.js';
import type { AliasChallenges, AliasGrant } from '../proof/alias-challenges.js';
import { badCookieReply, cnameChallengeReply, maxUnprovenReply, truncatedReply } from '../proof/challenge-replies.js';
import type { Query } from '../wire/parse-query.js';
import { challengeFor, proofOf, type Challenge, type ProofKind, type ProofPolicy } from './address-proof.js';

export type RequestKind = 'fqdn_new' | 'sfqdn_new' | 'sfqdn_reuse';
export type RefusalReason = 'tier' | 'budget';

/** Reputation, tiers and budget (PBRA); the gate only asks and reports. */
export interface Admission {
  /** The reputation group of a resolver address (configured groups, or one per unknown resolver). */
  groupOf(resolver: string, now: number): string;
  /** `requester`: the client subnet of ECS when present, else the resolver address. */
  event(group: string, requester: string, kind: 'ok' | 'nok' | 'trusted' | 'untrusted', now: number): void;
  /** A CNAME follow-up came from another resolver than the challenge went to: one farm, one group. */
  merge(resolverA: string, resolverB: string, now: number): void;
  admit(
    req: { group: string; requester: string; kind: RequestKind; loadPercent: number; requesterHeld: number; poolSize: number },
    now: number,
  ): { ok: true } | { ok: false; reason: RefusalReason };
}

/** Everyone may reserve (the defences' reputation part is off). */
export const ADMIT_ALL: Admission = {
  groupOf: (resolver) => resolver,
  event: () => undefined,
  merge: () => undefined,
  admit: () => ({ ok: true }),
};

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
  admission?: Admission;
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
  group: string;
  requester: string;
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
  private readonly admission: Admission;
  private readonly tickets = new Map<number, Ticket>();
  private readonly held = new Map<string, number>();

  constructor(private readonly opts: AllocationGateOptions) {
    this.admission = opts.admission ?? ADMIT_ALL;
  }

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
    const cookie = this.cookieCheck(req.query, req.client);
    if (cookie?.kind === 'invalid') this.stats.cookiesInvalid++;
    const proof = proofOf({ transport: req.transport, cookie, aliasFollowUp: req.alias !== undefined });
    const group = this.admission.groupOf(req.client, now);
    const requester = requesterOf(req.query, req.client, this.opts.ecsPrefixLength ?? 24);
    if (!proof && this.opts.policy.required) {
      this.admission.event(group, requester.id, 'untrusted', now);
      this.stats.refused.unproven++;
      return { kind: 'challenge', reply: this.challenge(req, now) };
    }
    if (proof) {
      this.stats.proofs[proof]++;
      this.admission.event(group, requester.id, 'trusted', now);
      if (req.alias && req.alias.resolver !== req.client) this.admission.merge(req.alias.resolver, req.client, now);
    }
    const size = this.opts.poolSize();
    const kind: RequestKind = req.key.protocol === 0 && req.key.port === 0 ? 'fqdn_new' : this.opts.wouldShare(req.key) ? 'sfqdn_reuse' : 'sfqdn_new';
    const verdict = this.admission.admit(
      {
        group,
        requester: requester.id,
        kind,
        loadPercent: Math.min(100, (100 * this.opts.poolLive()) / size),
        requesterHeld: this.held.get(requester.id) ?? 0,
        poolSize: size,
      },
      now,
    );
    if (!verdict.ok) {
      this.stats.refused[verdict.reason]++;
      return verdict.reason === 'tier' || verdict.reason === 'budget' ? { kind: 'refuse', reason: verdict.reason } : { kind: 'refuse', reason: 'tier' };
    }
    return { kind: 'admit', ticket: { group, requester: requester.id, source: requester.source, proof: proof ?? 'none' } };
  }

  /** A reservation was made for an admitted ticket. */
  reserved(r: Reservation, ticket: Ticket): void {
    this.tickets.set(r.id, ticket);
    this.held.set(ticket.requester, (this.held.get(ticket.requester) ?? 0) + 1);
    if (r.source) this.stats.bound++;
  }

  /** Every reservation's end, from the pool: consumed counts good for its requester, expiring unused bad. */
  released(r: Reservation, why: ReleaseReason): void {
    const ticket = this.tickets.get(r.id);
    if (!ticket) return;
    this.tickets.delete(r.id);
    const n = (this.held.get(ticket.requester) ?? 1) - 1;
    if (n <= 0) this.held.delete(ticket.requester);
    else this.held.set(ticket.requester, n);
    if (why === 'consumed') this.admission.event(ticket.group, ticket.requester, 'ok', this.opts.now());
    else if (why === 'expired') this.admission.event(ticket.group, ticket.requester, 'nok', this.opts.now());
  }

  private cookieCheck(query: Query, client: string): CookieCheck | undefined {
    const c = query.edns?.cookie;
    if (!c || !this.opts.cookies) return undefined;
    return checkServerCookie(this.opts.cookies.at(this.opts.now()), c.client, c.server, ipBytes(client), this.opts.wallSeconds());
  }

  private challenge(req: GateRequest, now: number): Buffer {
    const { query, packet } = req;
    const cookie = this.cookieFor(query, req.client);
    const base = { udpPayloadSize: this.opts.udpPayloadSize, cookie };
    const bound = maxUnprovenReply(packet.length);
    const aliases = this.opts.aliases;
    // The CNAME reply's size is known before an alias is spent on it: label length is fixed.
    const probe = aliases ? cnameChallengeReply(query, packet, 'xxxxxxxx', aliases.zone, base) : undefined;
    const chosen = challengeFor(this.opts.policy, { hasClientCookie: cookie !== undefined, cnameFits: !!probe && probe.length <= bound });
    if (chosen === 'cname') {
      const label = aliases!.issue({ qname: req.qname, qtype: req.qtype, resolver: req.client }, now);
      if (label) {
        this.stats.challenges.cname++;
        return cnameChallengeReply(query, packet, label, aliases!.zone, base);
      }
    }
    if (chosen === 'badcookie' && cookie) {
      this.stats.challenges.badcookie++;
      return badCookieReply(query, packet, { ...base, cookie });
    }
    this.stats.challenges.tc++;
    return truncatedReply(query, packet, base);
  }
}

/** The requester: the ECS client subnet (IPv4) when the query carries one, else the resolver's address. */
export function requesterOf(query: Query, client: string, maxPrefix: number): { id: string; source?: { network: number; prefixLength: number } } {
  const ecs = query.edns?.clientSubnet;
  if (!ecs || ecs.sourcePrefix === 0) return { id: client };
  const prefixLength = Math.min(ecs.sourcePrefix, maxPrefix);
  const mask = prefixLength === 0 ? 0 : (-1 << (32 - prefixLength)) >>> 0;
  const network = (ecs.address & mask) >>> 0;
  const dotted = [network >>> 24, (network >>> 16) & 255, (network >>> 8) & 255, network & 255].join('.');
  return { id: `${dotted}/${prefixLength}`, source: { network, prefixLength } };
}

function ipBytes(address: string): Buffer {
  const parts = address.startsWith('::ffff:') ? address.slice(7).split('.') : address.split('.');
  return Buffer.from(parts.map(Number));
}
