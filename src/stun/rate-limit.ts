// Answer budget of the STUN server, so it cannot be used as a reflector against a spoofed source: a token
// bucket per source address plus one for the whole server. Pure (time injected); memory is bounded by
// maxSources, and a source idle long enough to have refilled its bucket is forgotten (nothing is lost).

export interface RateLimitOptions {
  /** answers per second to one source address (sustained) */
  perSourceRate: number;
  /** answers one source address may get in a burst */
  perSourceBurst: number;
  /** answers per second from the whole server */
  globalRate: number;
  globalBurst: number;
  /** source addresses tracked at most; the least recently seen is forgotten first */
  maxSources: number;
}

export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = {
  perSourceRate: 10,
  perSourceBurst: 40,
  globalRate: 2000,
  globalBurst: 2000,
  maxSources: 10_000,
};

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly opts: RateLimitOptions;
  /** in order of last use (a used entry is moved to the end), so the oldest are at the front */
  private readonly sources = new Map<string, Bucket>();
  private readonly global: Bucket;
  private readonly idleMs: number;

  constructor(
    opts: Partial<RateLimitOptions> = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.opts = { ...DEFAULT_RATE_LIMIT, ...opts };
    for (const [k, v] of Object.entries(this.opts)) {
      if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`rate limit ${k} must be a positive number`);
    }
    this.idleMs = (this.opts.perSourceBurst / this.opts.perSourceRate) * 1000;
    this.global = { tokens: this.opts.globalBurst, at: this.now() };
  }

  /** May `source` be answered now? Takes a token from its bucket and the global one when it may. */
  allow(source: string): boolean {
    const t = this.now();
    this.expire(t);
    let b = this.sources.get(source);
    if (b) {
      this.sources.delete(source);
      refill(b, t, this.opts.perSourceRate, this.opts.perSourceBurst);
    } else {
      if (this.sources.size >= this.opts.maxSources) this.sources.delete(this.sources.keys().next().value!);
      b = { tokens: this.opts.perSourceBurst, at: t };
    }
    this.sources.set(source, b);
    refill(this.global, t, this.opts.globalRate, this.opts.globalBurst);
    if (b.tokens < 1 || this.global.tokens < 1) return false;
    b.tokens -= 1;
    this.global.tokens -= 1;
    return true;
  }

  /** sources currently tracked */
  get size(): number {
    return this.sources.size;
  }

  private expire(t: number): void {
    for (const [key, b] of this.sources) {
      if (t - b.at < this.idleMs) break;
      this.sources.delete(key);
    }
  }
}

function refill(b: Bucket, t: number, rate: number, burst: number): void {
  if (t > b.at) b.tokens = Math.min(burst, b.tokens + ((t - b.at) * rate) / 1000);
  b.at = t;
}
