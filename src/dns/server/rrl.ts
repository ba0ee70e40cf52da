/**
 * Response-rate limiting in the manner of BIND's RRL: a WAN answer that costs us nothing (a static answer, an
 * error) can still be aimed at a spoofed victim, and the resolver farm behind one /24 shares a budget. Each
 * (client prefix, response key) pair has a balance that refills at `responsesPerSecond`, holds at most one
 * second's worth, and may sink to `-window` seconds' worth, so a flood stays limited for up to `window`
 * seconds after it slows. A limited response is dropped, except every `slip`-th one, which is sent as a
 * truncated (TC=1) minimal answer: a real client behind a spoofed-upon prefix then retries over TCP, which a
 * spoofer cannot. Pure (time injected); the table holds at most `maxTracked` pairs, least recently used
 * forgotten first (a forgotten pair starts again with a full balance, which only errs towards answering).
 */

import { isIP } from 'node:net';

export interface RrlOptions {
  /** Identical responses per second one prefix gets before limiting starts. */
  responsesPerSecond: number;
  /** Every slip-th limited response is sent truncated instead of dropped; 0 drops them all, 1 slips them all. */
  slip: number;
  /** Seconds of debt a flood can build up: how long limiting lasts after the flood stops. */
  window: number;
  /** Clients are grouped by this IPv4 prefix (BIND's default: 24). */
  ipv4PrefixLength: number;
  /** Clients are grouped by this IPv6 prefix (BIND's default: 56). */
  ipv6PrefixLength: number;
  /** (prefix, response) pairs remembered at most. */
  maxTracked: number;
}

export const DEFAULT_RRL: Readonly<RrlOptions> = {
  responsesPerSecond: 20,
  slip: 2,
  window: 15,
  ipv4PrefixLength: 24,
  ipv6PrefixLength: 56,
  maxTracked: 100_000,
};

export type RrlVerdict = 'send' | 'drop' | 'slip';

/**
 * The response key BIND's RRL uses, as a suggestion: answers are limited per name and type; NXDOMAIN and
 * NODATA per zone (`zone`), so a flood of random names under one zone shares one budget; other errors per
 * rcode. Names are canonical (lowercase), so case randomisation does not multiply budgets.
 */
export function rrlResponseKey(kind: 'answer' | 'nxdomain' | 'nodata' | 'error', rcode: number, qname: string, qtype: number, zone?: string): string {
  switch (kind) {
    case 'answer':
      return `a ${qtype} ${qname}`;
    case 'nxdomain':
    case 'nodata':
      return `n ${zone ?? qname}`;
    case 'error':
      return `e ${rcode}`;
  }
}

interface Entry {
  balance: number;
  at: number;
  /** Limited responses so far, for choosing which ones slip. */
  limited: number;
}

export class Rrl {
  private readonly opts: RrlOptions;
  /** In order of last use: a used entry is moved to the end, so the least recently used are at the front. */
  private readonly table = new Map<string, Entry>();
  private readonly v4Mask: number;

  constructor(opts: Partial<RrlOptions> = {}) {
    this.opts = { ...DEFAULT_RRL, ...opts };
    const o = this.opts;
    if (!(o.responsesPerSecond > 0)) throw new RangeError('rrl responsesPerSecond must be positive');
    if (!(Number.isInteger(o.slip) && o.slip >= 0)) throw new RangeError('rrl slip must be an integer >= 0');
    if (!(o.window >= 0)) throw new RangeError('rrl window must be >= 0');
    if (!(Number.isInteger(o.ipv4PrefixLength) && o.ipv4PrefixLength >= 0 && o.ipv4PrefixLength <= 32)) throw new RangeError('rrl ipv4PrefixLength must be 0..32');
    if (!(Number.isInteger(o.ipv6PrefixLength) && o.ipv6PrefixLength >= 0 && o.ipv6PrefixLength <= 128)) throw new RangeError('rrl ipv6PrefixLength must be 0..128');
    if (!(Number.isInteger(o.maxTracked) && o.maxTracked > 0)) throw new RangeError('rrl maxTracked must be a positive integer');
    this.v4Mask = o.ipv4PrefixLength === 0 ? 0 : (0xffffffff << (32 - o.ipv4PrefixLength)) >>> 0;
  }

  /**
   * Charges one response `responseKey` (e.g. rcode, qname and qtype; or the zone for NXDOMAIN) to the client's
   * prefix and says what to do with it. `client` is an IPv4 address as an unsigned 32-bit number or any
   * address as text (IPv4, IPv6, IPv4-mapped IPv6).
   */
  check(client: number | string, responseKey: string, nowMs: number): RrlVerdict {
    const key = `${this.prefixOf(client)}|${responseKey}`;
    const o = this.opts;
    let e = this.table.get(key);
    if (e) {
      this.table.delete(key);
      const refill = ((nowMs - e.at) / 1000) * o.responsesPerSecond;
      if (refill > 0) e.balance = Math.min(o.responsesPerSecond, e.balance + refill);
      e.at = Math.max(e.at, nowMs);
    } else {
      if (this.table.size >= o.maxTracked) this.table.delete(this.table.keys().next().value!);
      e = { balance: o.responsesPerSecond, at: nowMs, limited: 0 };
    }
    this.table.set(key, e);
    e.balance = Math.max(e.balance - 1, -o.window * o.responsesPerSecond);
    if (e.balance >= 0) {
      e.limited = 0;
      return 'send';
    }
    e.limited++;
    return o.slip > 0 && e.limited % o.slip === 0 ? 'slip' : 'drop';
  }

  /** Pairs currently remembered. */
  get tracked(): number {
    return this.table.size;
  }

  private prefixOf(client: number | string): string {
    if (typeof client === 'number') return `4:${(client & this.v4Mask) >>> 0}`;
    if (client.startsWith('::ffff:') && isIP(client.slice(7)) === 4) client = client.slice(7);
    const family = isIP(client);
    if (family === 4) {
      const [a, b, c, d] = client.split('.').map(Number);
      return `4:${(((a << 24) | (b << 16) | (c << 8) | d) & this.v4Mask) >>> 0}`;
    }
    if (family === 6) return `6:${ipv6Prefix(client, this.opts.ipv6PrefixLength)}`;
    return `?:${client}`; // not an address (a test double, a Unix socket): its own bucket
  }
}

/** The first `bits` of an IPv6 address as hex groups, the rest zeroed; written for grouping, not display. */
function ipv6Prefix(text: string, bits: number): string {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t].map((g) => parseInt(g, 16) || 0);
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    out.push(keep === 0 ? 0 : groups[i] & ((0xffff << (16 - keep)) & 0xffff));
  }
  return out.map((g) => g.toString(16)).join(':');
}
