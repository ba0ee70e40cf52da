/**
 * Who has earned what: reputations of resolver groups and of requesters, per period, in bounded memory.
 * Pure: every call takes `now` (ms, any monotonic clock); nothing runs by itself.
 *
 * Groups. A configured group (Realm Gateway's DNS_GROUP_POLICY) owns its nodes (addresses or blocks) and is
 * never forgotten. A resolver in no configured group gets a group of its own when first seen. An alias
 * follow-up from another resolver than the one the alias was sent to shows the two work together (a
 * resolver farm): their groups merge - a configured group absorbs an unknown one, two unknown groups merge
 * into the larger (so an address moves O(log n) times at most), two configured groups never merge (the
 * operator said they are different). Unlike Realm Gateway, the merge happens only when the follow-up itself
 * is proven (TCP or cookie): a plain UDP follow-up may carry any source address, and merging on it would let
 * whoever holds an alias join a configured group and borrow its reputation.
 *
 * Requesters. The party behind a resolver: its client's subnet from EDNS Client Subnet (cut to
 * ecsPrefixIpv4) when the resolver's group is `sla` - only those are trusted to name their clients - else
 * the resolver address itself.
 *
 * Memory. Addresses learned for groups (unknown resolvers and merged members) and requesters each live in a
 * TwoAreaLru of maxTrackedResolvers / maxTrackedRequesters entries; an unknown group disappears with its
 * last address. Entries first seen from unproven (spoofable) sources go to a probation area that cannot push
 * out proven ones. Configured groups and their nodes are outside these bounds.
 *
 * Periods. Period n spans [start + n*periodMs, start + (n+1)*periodMs). Every call first moves all parties to
 * the current period (O(parties) once per period; after 64 idle periods a score is within 1e-9 of the
 * middle, so at most 64 steps are taken).
 *
 * The best reputation known (the normalising denominator of admission.ts) is kept as an upper bound that is
 * exact after a recount: raises update it at once; a fall of the best party, an eviction, a merge or a period
 * change marks it stale, and it is recounted over all parties at most every 100 ms. A stale value is only ever
 * too high, which makes admission stricter for those milliseconds, never laxer.
 */
import { formatCidr, maskOf } from '../util/cidr.js';
import { formatIpv4 } from '../util/ipv4.js';
import { TwoAreaLru } from './lru.js';
import type { Cidr, GroupSpec } from './model.js';
import { MIDDLE } from './model.js';
import { Standing, type Event } from './score.js';

const MAX_CATCH_UP = 64;
const BEST_RECOUNT_MS = 100;
const EPSILON = 1e-12;

export interface Group {
  readonly id: number;
  readonly name: string;
  readonly configured: boolean;
  readonly sla: boolean;
  /** Configured nodes (empty for a learned group). */
  readonly nodes: readonly Cidr[];
  /** Addresses learned into this group (its own for an unknown group, merged members). */
  readonly learned: Set<number>;
  readonly standing: Standing;
  lastSeen: number;
}

export interface Requester {
  /** network * 64 + prefixLength */
  readonly key: number;
  readonly network: number;
  readonly prefixLength: number;
  readonly standing: Standing;
  lastSeen: number;
}

export interface BookOptions {
  groups: readonly GroupSpec[];
  periodMs: number;
  maxTrackedResolvers: number;
  maxTrackedRequesters: number;
}

export function requesterKey(network: number, prefixLength: number): number {
  return network * 64 + prefixLength;
}

export class ReputationBook {
  private readonly configured: Group[] = [];
  /** Configured nodes by prefix length (longest first), then by network. */
  private readonly configuredByPrefix: { prefixLength: number; mask: number; nets: Map<number, Group> }[] = [];
  private readonly unknown = new Set<Group>();
  private readonly resolvers: TwoAreaLru<number, Group>;
  private readonly requesters: TwoAreaLru<number, Requester>;
  private readonly start: number;
  private periodIndex = 0;
  private nextId = 1;
  private bestKnown: number;
  private bestStale = false;
  private bestCountedAt = -Infinity;

  constructor(
    private readonly opts: BookOptions,
    now: number,
  ) {
    this.start = now;
    for (const spec of opts.groups) {
      const group: Group = { id: this.nextId++, name: spec.name, configured: true, sla: spec.sla, nodes: spec.nodes.map((n) => ({ ...n })), learned: new Set(), standing: new Standing(spec.initialReputation), lastSeen: now };
      this.configured.push(group);
      for (const node of spec.nodes) {
        let slot = this.configuredByPrefix.find((s) => s.prefixLength === node.prefixLength);
        if (!slot) {
          slot = { prefixLength: node.prefixLength, mask: maskOf(node.prefixLength), nets: new Map() };
          this.configuredByPrefix.push(slot);
          this.configuredByPrefix.sort((a, b) => b.prefixLength - a.prefixLength);
        }
        slot.nets.set(node.network, group);
      }
    }
    this.resolvers = new TwoAreaLru(opts.maxTrackedResolvers, (addr, group) => this.forgetAddress(addr, group));
    this.requesters = new TwoAreaLru(opts.maxTrackedRequesters, (_key, r) => this.forgotten(r.standing.score));
    this.bestKnown = Math.max(MIDDLE, ...this.configured.map((g) => g.standing.score));
  }

  get period(): number {
    return this.periodIndex;
  }

  /** Moves every party to the period `now` falls in. */
  tick(now: number): void {
    const index = Math.floor((now - this.start) / this.opts.periodMs);
    if (index <= this.periodIndex) return;
    const steps = Math.min(index - this.periodIndex, MAX_CATCH_UP);
    this.periodIndex = index;
    for (const s of this.standings()) for (let i = 0; i < steps; i++) s.age();
    this.bestStale = true;
    this.bestCountedAt = -Infinity;
  }

  /** The group a resolver address belongs to, if any (marks it seen). */
  groupOf(address: number, now: number, proven = false): Group | undefined {
    this.tick(now);
    const group = this.configuredGroupOf(address) ?? this.resolvers.touch(address, proven);
    if (group) group.lastSeen = now;
    return group;
  }

  /** The resolver's group, created as a group of its own when it has none. */
  ensureGroup(address: number, proven: boolean, now: number): Group {
    const known = this.groupOf(address, now, proven);
    if (known) return known;
    const group: Group = { id: this.nextId++, name: `resolver-${formatIpv4(address)}`, configured: false, sla: false, nodes: [], learned: new Set([address]), standing: new Standing(MIDDLE), lastSeen: now };
    this.unknown.add(group);
    this.resolvers.add(address, group, proven);
    this.raiseBest(group.standing.score);
    return group;
  }

  requester(network: number, prefixLength: number, now: number): Requester | undefined {
    this.tick(now);
    const r = this.requesters.touch(requesterKey(network, prefixLength), false);
    if (r) r.lastSeen = now;
    return r;
  }

  ensureRequester(network: number, prefixLength: number, proven: boolean, now: number): Requester {
    this.tick(now);
    const key = requesterKey(network, prefixLength);
    let r = this.requesters.touch(key, proven);
    if (!r) {
      r = { key, network, prefixLength, standing: new Standing(MIDDLE), lastSeen: now };
      this.requesters.add(key, r, proven);
      this.raiseBest(r.standing.score);
    }
    r.lastSeen = now;
    return r;
  }

  requesterByKey(key: number, now: number): Requester | undefined {
    this.tick(now);
    return this.requesters.peek(key);
  }

  record(party: Group | Requester, event: Event, now: number): void {
    this.tick(now);
    const before = party.standing.score;
    party.standing.record(event);
    const after = party.standing.score;
    if (after > this.bestKnown) this.bestKnown = after;
    else if (after < before && before >= this.bestKnown - EPSILON) this.bestStale = true;
  }

  /**
   * Merges the groups of two resolvers shown to work together; returns the surviving group (or `a`'s group when
   * they are not merged: same group, or both configured).
   */
  merge(a: number, b: number, now: number): Group {
    const ga = this.ensureGroup(a, true, now);
    const gb = this.ensureGroup(b, true, now);
    // Making room for b may have forgotten a (a tiny proven area): then there is nothing left to merge.
    if (!ga.configured && !this.unknown.has(ga)) return gb;
    if (ga === gb || (ga.configured && gb.configured)) return ga;
    const [survivor, loser] = ga.configured || (!gb.configured && ga.learned.size >= gb.learned.size) ? [ga, gb] : [gb, ga];
    survivor.standing.absorb(loser.standing);
    for (const addr of loser.learned) {
      survivor.learned.add(addr);
      this.resolvers.replace(addr, survivor);
    }
    loser.learned.clear();
    this.unknown.delete(loser);
    this.bestStale = true;
    this.raiseBest(survivor.standing.score);
    return survivor;
  }

  /** The highest reputation of any party known (an upper bound, see the header). */
  best(now: number): number {
    this.tick(now);
    if (this.bestStale && now - this.bestCountedAt >= BEST_RECOUNT_MS) {
      let best = 0;
      for (const s of this.standings()) best = Math.max(best, s.score);
      this.bestKnown = best;
      this.bestStale = false;
      this.bestCountedAt = now;
    }
    return this.bestKnown;
  }

  groups(): Group[] {
    return [...this.configured, ...this.unknown];
  }

  allRequesters(): IterableIterator<Requester> {
    return this.requesters.values();
  }

  /** Members of a group as text: configured nodes, then learned addresses. */
  members(group: Group): string[] {
    return [...group.nodes.map(formatCidr), ...[...group.learned].map(formatIpv4)];
  }

  sizes() {
    return {
      configuredGroups: this.configured.length,
      unknownGroups: this.unknown.size,
      resolverAddresses: this.resolvers.sizes,
      requesters: this.requesters.sizes,
    };
  }

  private configuredGroupOf(address: number): Group | undefined {
    for (const slot of this.configuredByPrefix) {
      const g = slot.nets.get((address & slot.mask) >>> 0);
      if (g) return g;
    }
    return undefined;
  }

  private forgetAddress(addr: number, group: Group): void {
    group.learned.delete(addr);
    if (!group.configured && group.learned.size === 0) {
      this.unknown.delete(group);
      this.forgotten(group.standing.score);
    }
  }

  private raiseBest(score: number): void {
    if (score > this.bestKnown) this.bestKnown = score;
  }

  private forgotten(score: number): void {
    if (score >= this.bestKnown - EPSILON) this.bestStale = true;
  }

  private *standings(): IterableIterator<Standing> {
    for (const g of this.configured) yield g.standing;
    for (const g of this.unknown) yield g.standing;
    for (const r of this.requesters.values()) yield r.standing;
  }
}

