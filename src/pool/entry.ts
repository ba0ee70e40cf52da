/** The pool's bookkeeping for one held reservation, and the order among reservations matching one packet. */
import { type FlowKey, type PacketKey, keyMatches, matchRank } from './flow-key.js';
import { type Reservation, prefixMask } from './request.js';

export interface Packet extends PacketKey {
  /** Destination address, u32: a pool address. */
  dst: number;
  /** Source address, u32; needed to match a reservation that has a source prefix. */
  src?: number;
}

export class Entry {
  /** Next held entry on the same address. */
  next: Entry | undefined = undefined;
  released = false;
  /** A loose reservation once its first flow came: that flow's source, the only one it admits from then on. */
  usedBy: number | undefined = undefined;
  /** A loose reservation once used: new flows it still admits (Infinity for loose_packet -1). */
  remaining = 0;

  constructor(
    readonly res: Reservation,
    /** Position of res.address in the pool's address list. */
    readonly index: number,
  ) {}

  get key(): FlowKey {
    return this.res.key;
  }

  matches(pkt: Packet): boolean {
    if (!this.matchesKey(pkt)) return false;
    if (this.usedBy !== undefined) return pkt.src === this.usedBy;
    const source = this.res.source;
    if (source === undefined) return true;
    return pkt.src !== undefined && ((pkt.src ^ source.network) & prefixMask(source.prefixLength)) === 0;
  }

  /** The packet's key matches, whatever its source. */
  matchesKey(pkt: Packet): boolean {
    return keyMatches(this.res.key, pkt);
  }
}

/**
 * Preference between two reservations that both match a packet (negative: `a` wins): lower matchRank
 * (exact, port wildcard, protocol wildcard, both), then earlier createdAt, then lower id.
 */
export function matchOrder(a: Reservation, b: Reservation): number {
  return matchRank(a.key) - matchRank(b.key) || a.createdAt - b.createdAt || a.id - b.id;
}
