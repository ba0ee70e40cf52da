/**
 * Group commit: one transaction in flight at a time; items submitted meanwhile go out merged in the next one
 * (up to maxMerge), which under load costs a fraction of separate ones. Items settle in submission order. If
 * a merged transaction fails, nothing of it took effect (the committer's contract), and its items are sent
 * again one per transaction, so every item gets its own verdict and a bad one never takes good ones down
 * with it. A committer may ask for the same transaction to be tried again after a pause (the kernel's EBUSY,
 * kernel-channel.ts); it stays ahead of everything queued behind it.
 *
 * The one batching engine of realmgw: the kernel channels (nft text, set elements) and the workers' registry
 * changes (WorkersService) both commit through it.
 */
import type { Logger } from '../log.js';

export interface GroupCommitOptions {
  log?: Logger;
  /** At most this many queued items are merged into one transaction. Default 64. */
  maxMerge?: number;
}

export interface Committer<P, R> {
  /**
   * Applies the items as ONE transaction: resolves with one result per item, or rejects having applied
   * nothing. Called again with the items one by one after a merged transaction was refused.
   */
  commit(items: P[]): Promise<R[]>;
  /** After a refused transaction: ms to wait before sending it again, or undefined to give up. `attempt` counts from 1. */
  retryAfter?(err: Error, attempt: number): number | undefined;
  /** What submit() rejects with once the engine is closed. */
  closedError(): Error;
}

interface Item<P, R> {
  payload: P;
  resolve: (r: R) => void;
  reject: (err: Error) => void;
  /** sent as a transaction of its own (after a merged one failed) */
  solo: boolean;
}

export interface GroupCommitStats {
  /** items settled */
  runs: number;
  /** transactions sent */
  lines: number;
  /** items sent again alone after a merged transaction failed */
  retried: number;
  /** items refused */
  failed: number;
  /** transactions sent again after a pause (retryAfter) */
  busy: number;
}

export class GroupCommit<P, R = void> {
  private queue: Item<P, R>[] = [];
  private inFlight: Item<P, R>[] | undefined;
  private attempt = 0;
  private closed = false;
  private idlers: (() => void)[] = [];
  private readonly maxMerge: number;
  private readonly counts: GroupCommitStats = { runs: 0, lines: 0, retried: 0, failed: 0, busy: 0 };

  constructor(
    private readonly committer: Committer<P, R>,
    opts: GroupCommitOptions = {},
  ) {
    this.maxMerge = Math.max(1, opts.maxMerge ?? 64);
  }

  /** Items not yet settled. */
  get pending(): number {
    return this.queue.length + (this.inFlight?.length ?? 0);
  }

  get stats(): GroupCommitStats {
    return { ...this.counts };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** One item: a transaction of its own or part of a merged one. */
  submit(payload: P): Promise<R> {
    if (this.closed) return Promise.reject(this.committer.closedError());
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ payload, resolve, reject, solo: false });
      this.pump();
    });
  }

  /** Settles once nothing is pending. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idlers.push(resolve));
  }

  /** Lets the pending items finish; submit() rejects afterwards. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private pump(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      for (const resolve of this.idlers.splice(0)) resolve();
      return;
    }
    const items: Item<P, R>[] = [this.queue.shift()!];
    if (!items[0]!.solo) while (items.length < this.maxMerge && this.queue.length && !this.queue[0]!.solo) items.push(this.queue.shift()!);
    this.inFlight = items;
    this.counts.lines++;
    let sent: Promise<R[]>;
    try {
      sent = this.committer.commit(items.map((i) => i.payload));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (results) => this.committed(items, results),
      (err: unknown) => this.refused(items, err instanceof Error ? err : new Error(String(err))),
    );
  }

  private committed(items: Item<P, R>[], results: R[]): void {
    this.inFlight = undefined;
    this.attempt = 0;
    this.counts.runs += items.length;
    items.forEach((item, i) => item.resolve(results[i]!));
    this.pump();
  }

  private refused(items: Item<P, R>[], err: Error): void {
    const pause = this.committer.retryAfter?.(err, this.attempt + 1);
    if (pause !== undefined) {
      // inFlight stays set: later items wait, so the order is kept; the retry may carry them, after these
      this.attempt++;
      this.counts.busy++;
      setTimeout(() => {
        this.inFlight = undefined;
        this.queue.unshift(...items);
        this.pump();
      }, pause);
      return;
    }
    this.inFlight = undefined;
    this.attempt = 0;
    if (items.length === 1) {
      this.counts.runs++;
      this.counts.failed++;
      items[0]!.reject(err);
    } else {
      this.counts.retried += items.length;
      this.queue.unshift(...items.map((i) => ({ ...i, solo: true })));
    }
    this.pump();
  }
}
