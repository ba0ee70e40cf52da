/**
 * A naive reference pool for the property tests (not a test file). It follows the written semantics literally
 * (scan every address from the cursor, filter arrays) and decides overlap and matching by brute force over a
 * small universe of real packets, never calling the code under test.
 */
import type { FlowKey } from '../../src/pool/flow-key.js';

export interface UPacket {
  protocol: number;
  port: number;
}

export interface USource {
  network: number;
  prefixLength: number;
}

export const PORTED = new Set([6, 17, 33, 132, 136]);

/** Every real packet the small universe's keys can tell apart: portless protocols carry port 0 only. */
export const UNIVERSE: UPacket[] = [0, 1, 6, 17, 47, 132].flatMap((protocol) =>
  PORTED.has(protocol) ? [0, 22, 80, 9999].map((port) => ({ protocol, port })) : [{ protocol, port: 0 }],
);

/** Keys over protocols {0,1,6,17} and ports {0,22,80}, the invalid ICMP-with-port ones left out. */
export const KEYS: FlowKey[] = [0, 1, 6, 17]
  .flatMap((protocol) => [0, 22, 80].map((port) => ({ protocol, port })))
  .filter((k) => k.protocol !== 1 || k.port === 0);

export function oracleMatches(key: FlowKey, pkt: UPacket): boolean {
  const port = PORTED.has(pkt.protocol) ? pkt.port : 0;
  return (key.protocol === 0 || key.protocol === pkt.protocol) && (key.port === 0 || key.port === port);
}

export function oracleOverlap(a: FlowKey, b: FlowKey): boolean {
  return UNIVERSE.some((p) => oracleMatches(a, p) && oracleMatches(b, p));
}

export function sourceContains(source: USource | undefined, src: number | undefined): boolean {
  if (source === undefined) return true;
  if (src === undefined) return false;
  const mask = source.prefixLength === 0 ? 0 : (0xffffffff << (32 - source.prefixLength)) >>> 0;
  return ((src & mask) >>> 0) === source.network;
}

export interface MRes {
  id: number;
  address: number;
  key: FlowKey;
  hostId: string;
  source?: USource;
  createdAt: number;
  expiresAt: number;
  /** loose_packet: 0 single use; N > 0 N more flows from the first source; -1 until it expires. */
  loose: number;
  usedBy?: number;
  remaining: number;
}

export type MReserve = { ok: true; r: MRes } | { ok: false; reason: 'exhausted' | 'host-limit' };

function rank(k: FlowKey): number {
  return (k.protocol === 0 ? 2 : 0) + (k.port === 0 ? 1 : 0);
}

export class ModelPool {
  cursor = 0;
  clock = Number.NEGATIVE_INFINITY;
  lastId = 0;
  live: MRes[] = [];
  stats = { reserved: 0, consumed: 0, expired: 0, cancelled: 0, exhausted: 0, hostLimited: 0, flows: 0, live: 0 };

  constructor(
    readonly addresses: number[],
    readonly lifetimeMs: number,
  ) {}

  reserve(
    key: FlowKey,
    hostId: string,
    hostMax: number | undefined,
    lifetimeMs: number | undefined,
    source: USource | undefined,
    now: number,
    loose = 0,
  ): MReserve {
    const t = this.advance(now).t;
    if (hostMax !== undefined && this.live.filter((r) => r.hostId === hostId).length >= hostMax) {
      this.stats.hostLimited++;
      return { ok: false, reason: 'host-limit' };
    }
    const index = this.firstUsable(key);
    if (index === undefined) {
      this.stats.exhausted++;
      return { ok: false, reason: 'exhausted' };
    }
    const address = this.addresses[index];
    const expiresAt = t + (lifetimeMs ?? this.lifetimeMs);
    const r: MRes = { id: ++this.lastId, address, key, hostId, source, createdAt: t, expiresAt, loose, remaining: 0 };
    this.live.push(r);
    this.cursor = (index + 1) % this.addresses.length;
    this.stats.reserved++;
    return { ok: true, r };
  }

  /** The address a reservation for `key` would get now. */
  nextAddressFor(key: FlowKey): number | undefined {
    const index = this.firstUsable(key);
    return index === undefined ? undefined : this.addresses[index];
  }

  /** The first address position at or after the cursor with no live reservation whose key overlaps `key`. */
  private firstUsable(key: FlowKey): number | undefined {
    const n = this.addresses.length;
    for (let i = 0; i < n; i++) {
      const index = (this.cursor + i) % n;
      const address = this.addresses[index];
      if (!this.live.some((r) => r.address === address && oracleOverlap(r.key, key))) return index;
    }
    return undefined;
  }

  find(dst: number, pkt: UPacket, src: number | undefined, now: number): MRes | undefined {
    this.advance(now);
    // a used loose reservation admits its first flow's source only, whatever its own source prefix
    const admits = (r: MRes) => (r.usedBy !== undefined ? src === r.usedBy : sourceContains(r.source, src));
    const candidates = this.live.filter((r) => r.address === dst && oracleMatches(r.key, pkt) && admits(r));
    candidates.sort((a, b) => rank(a.key) - rank(b.key) || a.createdAt - b.createdAt || a.id - b.id);
    return candidates[0];
  }

  consume(dst: number, pkt: UPacket, src: number | undefined, now: number): MRes | undefined {
    const r = this.find(dst, pkt, src, now);
    if (r === undefined) return r;
    this.stats.flows++;
    if (r.loose !== 0 && src !== undefined) {
      if (r.usedBy === undefined) {
        r.usedBy = src;
        r.remaining = r.loose < 0 ? Infinity : r.loose;
        return r;
      }
      if (--r.remaining > 0) return r;
    }
    this.live = this.live.filter((x) => x !== r);
    this.stats.consumed++;
    return r;
  }

  cancel(id: number, now: number): boolean {
    this.advance(now);
    const before = this.live.length;
    this.live = this.live.filter((r) => r.id !== id);
    if (this.live.length === before) return false;
    this.stats.cancelled++;
    return true;
  }

  expire(now: number): MRes[] {
    return this.advance(now).expired;
  }

  nextExpiry(): number | undefined {
    return this.live.length === 0 ? undefined : Math.min(...this.live.map((r) => r.expiresAt));
  }

  pendingFor(hostId: string): number {
    return this.live.filter((r) => r.hostId === hostId).length;
  }

  private advance(now: number): { t: number; expired: MRes[] } {
    const t = Math.max(now, this.clock);
    this.clock = t;
    const gone = this.live.filter((r) => r.expiresAt <= t);
    this.live = this.live.filter((r) => r.expiresAt > t);
    const expired = gone.filter((r) => r.usedBy === undefined);
    this.stats.expired += expired.length;
    this.stats.consumed += gone.length - expired.length;
    return { t, expired };
  }
}
