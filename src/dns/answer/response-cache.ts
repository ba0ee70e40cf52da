import type { ResponseTemplate } from '../wire/encode-response.js';
import type { Decision } from './decide.js';

export interface CacheEntry {
  decision: Decision;
  template: ResponseTemplate;
}

/**
 * Encoded answers by question, so a repeated question costs a buffer copy and a few patched bytes instead of a
 * decision and an encode. Bounded: random names (a scan, a spoofed flood) evict the oldest entries rather than
 * grow memory. Entries never go stale on their own, because answers depend only on the loaded zones and
 * policies; whoever swaps those clears the cache.
 */
export class ResponseCache {
  private readonly entries = new Map<string, CacheEntry>();
  constructor(private readonly capacity = 20000) {}

  static key(qname: string, qtype: number, qclass: number, edns: boolean, dnssecOk: boolean): string {
    return `${qtype}/${qclass}/${edns ? (dnssecOk ? 'D' : 'E') : 'N'}/${qname}`;
  }

  get(key: string): CacheEntry | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: CacheEntry): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, entry);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
