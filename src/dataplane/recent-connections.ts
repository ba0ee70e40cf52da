/**
 * A bounded, short memory of connections (by any string key, e.g. "src:sport>dst:dport"): which ones were seen
 * in the last `ttlMs`, at most `max` of them (the oldest forgotten first). Pure; time is passed in.
 */
export class RecentConnections {
  /** key -> when it was added; Map order is insertion order, so the oldest come first */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  has(key: string, now: number): boolean {
    const at = this.seen.get(key);
    return at !== undefined && now - at < this.ttlMs;
  }

  add(key: string, now: number): void {
    this.seen.delete(key);
    this.seen.set(key, now);
    for (const [k, at] of this.seen) {
      if (this.seen.size <= this.max && now - at < this.ttlMs) break;
      this.seen.delete(k);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The key of a connection by its original tuple. */
export const connectionKey = (src: number, srcPort: number, dst: number, dstPort: number): string => `${src}:${srcPort}>${dst}:${dstPort}`;
