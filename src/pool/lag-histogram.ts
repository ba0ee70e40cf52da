/**
 * Fixed-bucket counts of durations, kept where the event happens (the pool's consume) and read at scrape time
 * by /metrics: recording is a short walk over a handful of bounds and two additions, no allocation, so the hot
 * path pays next to nothing and nobody pays for percentiles until someone asks.
 */

/** Upper bounds (ms) of the confirmation-lag buckets: nftset's slot hold is ~1 ms, a client's DNS-to-connect
 * seconds, a reservation's lifetime a few seconds. */
export const CONFIRMATION_LAG_BOUNDS_MS: readonly number[] = Object.freeze([0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

export interface HistogramSnapshot {
  /** Upper bounds, ascending (ms). */
  bounds: readonly number[];
  /** Observations per bucket, not cumulative: counts[i] for bounds[i], the last one above every bound. */
  counts: number[];
  /** Sum of the observations (ms). */
  sum: number;
  count: number;
}

export class LagHistogram {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[] = CONFIRMATION_LAG_BOUNDS_MS) {
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i] > bounds[i - 1])) throw new Error('histogram bounds must ascend');
    this.counts = new Float64Array(bounds.length + 1);
  }

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: this.bounds, counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }
}
