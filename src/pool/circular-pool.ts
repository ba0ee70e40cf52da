/**
 * The circular pool: public addresses lent for a few seconds to (protocol, port) flow keys, so that the first
 * inbound packet to an address can be matched to the DNS query that asked for it.
 *
 * Invariant: no packet can match two live reservations (two live reservations share an address only when
 * their keys cannot overlap). Pure and deterministic: the caller passes `now` (ms); the pool's clock never
 * goes backwards (a smaller `now` counts as the latest one seen).
 *
 * Costs: reserve O(log32 size) worst case (a conflict bitset per flow key, see conflict-index.ts); find and
 * consume O(reservations on the address); expiry O(1) amortized per reservation (one FIFO per lifetime value,
 * monotonic because the clock is). Memory: 8 bytes per address, size/8 bytes per tracked key, and one
 * reservation plus one small entry object per live reservation.
 */
import { formatIpv4 } from '../util/ipv4.js';
import { ConflictIndex } from './conflict-index.js';
import { Entry, type Packet, matchOrder } from './entry.js';
import { ExpiryQueues } from './expiry-queues.js';
import { type FlowKey, assertFlowKey, flowKeyCode } from './flow-key.js';
import { PoolError } from './pool-error.js';
import { LagHistogram } from './lag-histogram.js';
import {
  type PoolOptions,
  type ReleaseReason,
  type Reservation,
  type ReservationRequest,
  checkOptions,
  checkRequest,
} from './request.js';

export type { PoolOptions, ReleaseReason, Reservation, ReservationRequest } from './request.js';
export { type Packet, matchOrder } from './entry.js';

export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; reason: 'exhausted' | 'host-limit' };

export interface PoolStats {
  reserved: number;
  consumed: number;
  expired: number;
  cancelled: number;
  exhausted: number;
  hostLimited: number;
  /** New flows admitted: one per consumed reservation, plus the further flows of loose ones. */
  flows: number;
  live: number;
}

const DEFAULT_MAX_TRACKED_KEYS = 64;
const NONE: readonly Reservation[] = Object.freeze([]);
/** Frozen key objects are shared between reservations, up to this many distinct keys. */
const MAX_SHARED_KEYS = 4096;

export class CircularPool {
  private readonly addresses: Uint32Array;
  private readonly sorted: Uint32Array;
  private readonly lifetimeMs: number;
  private readonly onRelease: ((r: Reservation, why: ReleaseReason) => void) | undefined;
  /** Entries held at each address position (a linked list through Entry.next); an array, not a Map, because
   * the map's churn under 100k short-lived reservations cost a fifth of the allocation path. */
  private readonly heads: (Entry | undefined)[];
  /** Circular position of each address in `sorted` order, to go from a packet's address to its list. */
  private readonly sortedIndex: Uint32Array;
  private readonly byId = new Map<number, Entry>();
  private readonly pendingByHost = new Map<string, number>();
  private readonly expiry: ExpiryQueues<Entry>;
  private readonly conflicts: ConflictIndex;
  private readonly sharedKeys = new Map<number, Readonly<FlowKey>>();
  private readonly counts = { reserved: 0, consumed: 0, expired: 0, cancelled: 0, exhausted: 0, hostLimited: 0, flows: 0 };
  /** Time from each reservation to its consumption (a loose one's first flow), for /metrics. */
  readonly confirmationLag = new LagHistogram();
  private cursor = 0;
  private clock = -Infinity;
  private lastId = 0;

  constructor(opts: PoolOptions) {
    checkOptions(opts);
    this.addresses = Uint32Array.from(opts.addresses);
    const order = Uint32Array.from(this.addresses.keys()).sort((a, b) => this.addresses[a] - this.addresses[b]);
    this.sorted = order.map((i) => this.addresses[i]);
    this.sortedIndex = order;
    for (let i = 1; i < this.sorted.length; i++) {
      if (this.sorted[i] === this.sorted[i - 1]) throw new PoolError(`duplicate pool address ${formatIpv4(this.sorted[i])}`);
    }
    this.heads = new Array<Entry | undefined>(this.addresses.length).fill(undefined);
    this.lifetimeMs = opts.lifetimeMs;
    this.onRelease = opts.onRelease;
    this.conflicts = new ConflictIndex(this.addresses.length, opts.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS);
    this.expiry = new ExpiryQueues<Entry>(this.lifetimeMs);
  }

  get size(): number {
    return this.addresses.length;
  }

  /** Live reservations (what stats.live says, without building the stats object: a per-query read). */
  get liveCount(): number {
    return this.byId.size;
  }

  /** Whether any live reservation holds `address` (a pool address). */
  holds(address: number): boolean {
    return this.headAt(address) !== undefined;
  }

  get stats(): PoolStats {
    return { ...this.counts, live: this.byId.size };
  }

  reserve(req: ReservationRequest, now: number): ReserveResult {
    const lifetimeMs = checkRequest(req, this.lifetimeMs);
    const t = this.advance(now).t;
    const pending = this.pendingByHost.get(req.hostId) ?? 0;
    if (req.hostMax !== undefined && pending >= req.hostMax) {
      this.counts.hostLimited++;
      return { ok: false, reason: 'host-limit' };
    }
    const index = this.conflicts.bitsetFor(req.key, () => this.byId.values()).nextClearWrapping(this.cursor);
    if (index < 0) {
      this.counts.exhausted++;
      return { ok: false, reason: 'exhausted' };
    }
    const reservation = this.makeReservation(req, this.addresses[index], lifetimeMs, t);
    this.link(new Entry(reservation, index), lifetimeMs);
    this.pendingByHost.set(req.hostId, pending + 1);
    this.counts.reserved++;
    this.cursor = index + 1 === this.addresses.length ? 0 : index + 1;
    return { ok: true, reservation };
  }

  /** The live reservation the packet would be matched to, left in place. */
  find(pkt: Packet, now: number): Reservation | undefined {
    this.advance(now);
    return this.bestMatch(pkt)?.res;
  }

  /**
   * A live reservation the packet's key matches but its source does not: a reservation bound to a client
   * subnet that a packet from elsewhere tried to take (the data plane counts those apart). Changes nothing.
   */
  findBoundElsewhere(pkt: Packet, now: number): Reservation | undefined {
    this.advance(now);
    for (let e = this.headAt(pkt.dst); e !== undefined; e = e.next) {
      if (e.res.source !== undefined && e.matchesKey(pkt) && !e.matches(pkt)) return e.res;
    }
    return undefined;
  }

  /**
   * The live reservation the packet matches, removed: its address becomes free for its key again. A loose
   * reservation (loosePacket, see request.ts) stays held after its first flow, bound to that flow's source,
   * until it has admitted its last flow (then it is released as consumed) or its lifetime ends (released as
   * consumed too: it was used). Released reservations are reported once, when they go.
   */
  consume(pkt: Packet, now: number): Reservation | undefined {
    const t = this.advance(now).t;
    const entry = this.bestMatch(pkt);
    if (entry === undefined) return undefined;
    if (entry.usedBy === undefined) this.confirmationLag.record(t - entry.res.createdAt);
    const loose = entry.res.loosePacket ?? 0;
    if (loose !== 0 && pkt.src !== undefined) {
      if (entry.usedBy === undefined) {
        entry.usedBy = pkt.src;
        entry.remaining = loose < 0 ? Infinity : loose;
        this.counts.flows++;
        return entry.res;
      }
      if (--entry.remaining > 0) {
        this.counts.flows++;
        return entry.res;
      }
    }
    this.counts.flows++;
    this.release(entry, 'consumed');
    this.notify([entry.res], 'consumed');
    return entry.res;
  }

  /** A held loose reservation's state: the source it is bound to since its first flow, and flows it still admits. */
  looseState(id: number): { usedBy: number; remaining: number } | undefined {
    const e = this.byId.get(id);
    return e?.usedBy === undefined ? undefined : { usedBy: e.usedBy, remaining: e.remaining };
  }

  cancel(id: number, now: number): boolean {
    this.advance(now);
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.release(entry, 'cancelled');
    this.notify([entry.res], 'cancelled');
    return true;
  }

  /**
   * Removes and returns the reservations with expiresAt <= now that are still held. Every operation taking
   * `now` purges the same way, so one that expired earlier may already be gone: it was reported to onRelease
   * then, and is not returned here. onRelease sees every reservation exactly once.
   */
  expire(now: number): Reservation[] {
    const expired = this.advance(now).expired;
    return expired === NONE ? [] : (expired as Reservation[]);
  }

  /** Earliest expiresAt among held reservations (for a timer), or undefined when none is held. */
  nextExpiry(): number | undefined {
    return this.expiry.earliest();
  }

  pendingFor(hostId: string): number {
    return this.pendingByHost.get(hostId) ?? 0;
  }

  contains(address: number): boolean {
    return this.positionOf(address) >= 0;
  }

  /** Circular position of `address`, or -1 when it is not a pool address. */
  private positionOf(address: number): number {
    const sorted = this.sorted;
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] === address) return this.sortedIndex[mid];
      if (sorted[mid] < address) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private headAt(address: number): Entry | undefined {
    const position = this.positionOf(address);
    return position < 0 ? undefined : this.heads[position];
  }

  /** Held reservations, oldest first: all of them, or those on one address. */
  live(address?: number): Reservation[] {
    const out: Reservation[] = [];
    if (address === undefined) {
      for (const entry of this.byId.values()) out.push(entry.res);
      return out;
    }
    for (let e = this.headAt(address); e !== undefined; e = e.next) out.push(e.res);
    return out.sort((a, b) => a.id - b.id);
  }

  /**
   * The address the next reservation for `key` would get (ignoring host limits), or undefined when the pool
   * is exhausted for that key. Changes nothing and does not purge: pass through an operation taking `now` first.
   */
  nextAddressFor(key: FlowKey): number | undefined {
    assertFlowKey(key);
    const index = this.conflicts.peekBitset(key, () => this.byId.values()).nextClearWrapping(this.cursor);
    return index < 0 ? undefined : this.addresses[index];
  }

  /** A held reservation by id. */
  get(id: number): Reservation | undefined {
    return this.byId.get(id)?.res;
  }

  private makeReservation(req: ReservationRequest, address: number, lifetimeMs: number, t: number): Reservation {
    const src = req.source;
    return Object.freeze({
      id: ++this.lastId,
      address,
      key: this.sharedKey(req.key),
      hostId: req.hostId,
      target: req.target,
      service: req.service,
      lifetimeMs,
      hostMax: req.hostMax,
      source: src === undefined ? undefined : Object.freeze({ network: src.network, prefixLength: src.prefixLength }),
      loosePacket: req.loosePacket,
      owner: req.owner,
      createdAt: t,
      expiresAt: t + lifetimeMs,
    });
  }

  private sharedKey(key: FlowKey): Readonly<FlowKey> {
    const code = flowKeyCode(key);
    let shared = this.sharedKeys.get(code);
    if (shared === undefined) {
      shared = Object.freeze({ protocol: key.protocol, port: key.port });
      if (this.sharedKeys.size < MAX_SHARED_KEYS) this.sharedKeys.set(code, shared);
    }
    return shared;
  }

  private bestMatch(pkt: Packet): Entry | undefined {
    let best: Entry | undefined;
    for (let e = this.headAt(pkt.dst); e !== undefined; e = e.next) {
      if (e.matches(pkt) && (best === undefined || matchOrder(e.res, best.res) < 0)) best = e;
    }
    return best;
  }

  private link(entry: Entry, lifetimeMs: number): void {
    entry.next = this.heads[entry.index];
    this.heads[entry.index] = entry;
    this.conflicts.added(entry);
    this.byId.set(entry.res.id, entry);
    this.expiry.push(entry, lifetimeMs);
  }

  /** Takes a held entry out of every structure but its FIFO (skipped there later) and counts why. */
  private release(entry: Entry, why: ReleaseReason): void {
    entry.released = true;
    const { hostId, id } = entry.res;
    const head = this.heads[entry.index];
    if (head === entry) {
      this.heads[entry.index] = entry.next;
    } else {
      let prev = head;
      while (prev !== undefined && prev.next !== entry) prev = prev.next;
      if (prev !== undefined) prev.next = entry.next;
    }
    entry.next = undefined;
    this.conflicts.removed(entry, this.heads[entry.index]);
    this.byId.delete(id);
    const pending = (this.pendingByHost.get(hostId) ?? 1) - 1;
    if (pending === 0) this.pendingByHost.delete(hostId);
    else this.pendingByHost.set(hostId, pending);
    this.counts[why]++;
  }

  /** Moves the clock to `now` (never backwards), purges what expired, then reports it. */
  private advance(now: number): { t: number; expired: readonly Reservation[] } {
    if (!Number.isFinite(now)) throw new PoolError(`now must be a finite number of ms, got ${String(now)}`);
    const t = now > this.clock ? now : this.clock;
    this.clock = t;
    const entries = this.expiry.takeExpired(t);
    if (entries === undefined) return { t, expired: NONE };
    const expired: Reservation[] = [];
    const used: Reservation[] = [];
    for (const entry of entries) {
      // a loose reservation that admitted flows ends as consumed: its lifetime bounded how many, not whether
      const why = entry.usedBy === undefined ? 'expired' : 'consumed';
      this.release(entry, why);
      (why === 'expired' ? expired : used).push(entry.res);
    }
    if (used.length) this.notify(used, 'consumed');
    this.notify(expired, 'expired');
    return { t, expired: expired.length ? expired : NONE };
  }

  /** Calls onRelease for each; a throwing callback does not stop the others, the first error is rethrown. */
  private notify(released: readonly Reservation[], why: ReleaseReason): void {
    if (this.onRelease === undefined) return;
    let failure: { error: unknown } | undefined;
    for (const r of released) {
      try {
        this.onRelease(r, why);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}
