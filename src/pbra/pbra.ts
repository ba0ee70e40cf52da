/**
 * PBRA as the query handler uses it: identify the parties of a query, admit or refuse its allocation, and
 * feed back what became of the reservation. Pure (time passed in, no timers, no sockets); one instance per
 * gateway. Who is blamed for what is described in admission.ts; how groups and requesters are kept in
 * reputation.ts.
 */
import { parseIpv4, formatIpv4 } from '../util/ipv4.js';
import { decide, type Admission } from './admission.js';
import { maskOf } from '../util/cidr.js';
import type { Cidr, PbraSettings, RequestKind } from './model.js';
import { MIDDLE } from './model.js';
import { ReputationBook, requesterKey, type Group, type Requester } from './reputation.js';
import type { Event } from './score.js';
import { reputationView, type ReputationView } from './view.js';

/** An IPv4 address as text or as an unsigned 32-bit number. */
export type Address = string | number;

/** The parties behind one query; keep it with the reservation and hand it back to used/expired. */
export interface Party {
  resolver: number;
  /** Key of the requester (network * 64 + prefix length): count live reservations per requester by it. */
  requester: number;
  sla: boolean;
  /** The client subnet an sla group named (EDNS Client Subnet): the reservation may be bound to it. */
  bindTo?: Cidr;
}

export interface IdentifyQuery {
  resolver: Address;
  /** EDNS Client Subnet of the query (as parse-query.ts gives it). */
  ecs?: { address: number; sourcePrefix: number };
  /** The query's source address is proven (TCP, a valid cookie, an alias follow-up). */
  proven: boolean;
  /** Also count the query as trusted on the resolver's group (what trusted() does), in the same lookup. */
  trusted?: boolean;
}

export interface AdmitQuery {
  party: Party;
  kind: RequestKind;
  /** Allocated addresses / pool size, in %. */
  loadPercent: number;
  /** Live reservations this requester (party.requester) holds now. */
  requesterHeld: number;
  /** Addresses in the pool. */
  poolSize: number;
}

/** Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d. Anything but IPv4 is the caller's mistake (throws). */
function toU32(a: Address): number {
  if (typeof a === 'number') return a >>> 0;
  return parseIpv4(a.startsWith('::ffff:') ? a.slice(7) : a);
}

/** The requester of a party as text (a.b.c.d/len), for logs and views: formatted on demand, never per query. */
export function requesterLabel(party: Pick<Party, 'requester'>): string {
  const prefixLength = party.requester % 64;
  return `${formatIpv4((party.requester - prefixLength) / 64)}/${prefixLength}`;
}

export class Pbra {
  readonly book: ReputationBook;
  /**
   * The group and requester `identify` just found, for the `admit` that follows it in the same query: looking
   * them up again was a measurable share of an allocation's cost. Used once, and only for that very party.
   */
  private justIdentified?: { party: Party; group: Group; requester: Requester };
  private lastParty?: Party;

  constructor(
    readonly settings: PbraSettings,
    now: number,
  ) {
    this.book = new ReputationBook(
      { groups: settings.groups, periodMs: settings.periodMs, maxTrackedResolvers: settings.maxTrackedResolvers, maxTrackedRequesters: settings.maxTrackedRequesters },
      now,
    );
  }

  /** A query whose source is proven (TCP, valid cookie, alias follow-up) came from this resolver. */
  trusted(resolver: Address, now: number): void {
    const group = this.book.ensureGroup(toU32(resolver), true, now);
    this.book.record(group, 'trusted', now);
  }

  /**
   * An unproven plain UDP query came from this resolver (it is being challenged). Counted on its group; an
   * unknown resolver gets a probationary group only when logUntrusted is on.
   */
  untrusted(resolver: Address, now: number): void {
    const address = toU32(resolver);
    const group = this.settings.logUntrusted ? this.book.ensureGroup(address, false, now) : this.book.groupOf(address, now);
    if (group) this.book.record(group, 'untrusted', now);
  }

  /**
   * The follow-up for an alias sent to `issuedTo` came from `from`. That proves `issuedTo`; the two groups
   * merge only when the follow-up's own source is proven (see reputation.ts).
   */
  followUp(q: { issuedTo: Address; from: Address; fromProven: boolean }, now: number): void {
    const issuedTo = toU32(q.issuedTo);
    const from = toU32(q.from);
    if (q.fromProven && issuedTo !== from) this.book.merge(issuedTo, from, now);
    else this.book.ensureGroup(issuedTo, true, now);
  }

  /** The parties of a query about to ask for an allocation; creates them when new. */
  identify(q: IdentifyQuery, now: number): Party {
    const resolver = toU32(q.resolver);
    const group = this.book.ensureGroup(resolver, q.proven, now);
    if (q.trusted) this.book.record(group, 'trusted', now);
    let network = resolver;
    let prefixLength = 32;
    let bindTo: Cidr | undefined;
    // Source prefix 0 is a client asking not to be located (RFC 7871 §7.1.2).
    if (group.sla && q.ecs && q.ecs.sourcePrefix > 0) {
      prefixLength = Math.min(q.ecs.sourcePrefix, this.settings.ecsPrefixIpv4);
      network = (q.ecs.address & maskOf(prefixLength)) >>> 0;
      bindTo = { network, prefixLength };
    }
    const requester = this.book.ensureRequester(network, prefixLength, q.proven, now);
    const key = requesterKey(network, prefixLength);
    const last = this.lastParty;
    // The same party as the previous query (a busy resolver): share its object, which every reservation keeps
    // until it ends, instead of one more per reservation.
    const same = last !== undefined && !bindTo && !last.bindTo && last.resolver === resolver && last.requester === key && last.sla === group.sla;
    const party: Party = same ? last : { resolver, requester: key, sla: group.sla };
    if (bindTo) party.bindTo = bindTo;
    this.lastParty = party;
    this.justIdentified = { party, group, requester };
    return party;
  }

  admit(q: AdmitQuery, now: number): Admission {
    const just = this.justIdentified;
    this.justIdentified = undefined;
    const fresh = just !== undefined && just.party === q.party;
    const group = fresh ? just.group : this.book.groupOf(q.party.resolver, now);
    const requester = fresh ? just.requester : this.book.requesterByKey(q.party.requester, now);
    return decide(this.settings.tiers, this.settings.requesterBudget, {
      kind: q.kind,
      loadPercent: q.loadPercent,
      requesterHeld: q.requesterHeld,
      poolSize: q.poolSize,
      groupReputation: group?.standing.score ?? MIDDLE,
      requesterReputation: requester?.standing.score ?? MIDDLE,
      best: this.book.best(now),
    });
  }

  /** The reservation was consumed by a first packet: ok for the group and the requester. */
  used(party: Party, now: number): void {
    this.feed(party, 'ok', true, now);
  }

  /** The reservation expired unused: nok for the requester, and for the group unless it is sla and named the client. */
  expired(party: Party, now: number): void {
    this.feed(party, 'nok', party.bindTo === undefined, now);
  }

  /** Neither (e.g. cancelled): neutral for both. */
  neutral(party: Party, now: number): void {
    this.feed(party, 'neutral', true, now);
  }

  view(now: number, opts: { requesters?: number } = {}): ReputationView {
    return reputationView(this.book, this.settings.periodMs, now, opts.requesters);
  }

  private feed(party: Party, event: Event, toGroup: boolean, now: number): void {
    // Parties forgotten since (evicted) are not brought back by their outcome.
    const group: Group | undefined = toGroup ? this.book.groupOf(party.resolver, now) : undefined;
    const requester: Requester | undefined = this.book.requesterByKey(party.requester, now);
    if (group) this.book.record(group, event, now);
    if (requester) this.book.record(requester, event, now);
  }
}
