/**
 * Group commit for kernel transactions: one transaction in flight at a time; runs queued meanwhile go out
 * merged in the next one (up to maxMerge), which under load costs a fraction of separate ones. Runs settle in
 * call order. If a merged transaction fails, its runs are sent again one per transaction, so every run gets
 * its own verdict and a bad run never takes good ones down with it.
 *
 * EBUSY: the kernel refuses to add a set element while too many dead copies of its key wait for the set's
 * garbage collection (rhashtable). The pending sets collect every 20 ms (ruleset.ts), so the transaction is
 * tried again after a pause, still ahead of everything queued behind it.
 */
import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';
import type { Logger } from '../log.js';

export class NftError extends Error {
  readonly code = 'RGW_NFT_FAILED' satisfies ErrorCode;
  constructor(message: string) {
    super(errorMessage('RGW_NFT_FAILED', { reason: message }));
    this.name = 'NftError';
  }
}

export interface GroupCommitOptions {
  log?: Logger;
  /** At most this many queued runs are merged into one transaction. Default 64. */
  maxMerge?: number;
  /** How often a transaction the kernel refused with EBUSY is tried again, and after how long. Default 5, 50 ms. */
  busyRetries?: number;
  busyRetryMs?: number;
}

/** How one merged transaction reaches the kernel. */
export interface Transport<P, H> {
  open(): H;
  run(h: H, payloads: P[], done: (ok: boolean, error: string) => void): void;
  close(h: H): void;
}

interface Run<P> {
  payload: P;
  resolve: () => void;
  reject: (err: Error) => void;
  /** sent as a transaction of its own (after a merged one failed) */
  solo: boolean;
}

const BUSY = /Device or resource busy/;

export class GroupCommit<P, H> {
  private handle: H | undefined;
  private queue: Run<P>[] = [];
  private inFlight: Run<P>[] | undefined;
  private busyTries = 0;
  private closed = false;
  private closing: (() => void) | undefined;
  private readonly maxMerge: number;
  private readonly busyRetries: number;
  private readonly busyRetryMs: number;
  private counts = { runs: 0, lines: 0, retried: 0, failed: 0, busy: 0 };

  constructor(
    private readonly transport: Transport<P, H>,
    private readonly opts: GroupCommitOptions = {},
  ) {
    this.maxMerge = Math.max(1, opts.maxMerge ?? 64);
    this.busyRetries = opts.busyRetries ?? 5;
    this.busyRetryMs = opts.busyRetryMs ?? 50;
  }

  /** Runs not yet settled. */
  get pending(): number {
    return this.queue.length + (this.inFlight?.length ?? 0);
  }

  /**
   * runs: settled runs; lines: transactions executed; retried: runs re-sent alone after a merged transaction
   * failed; busy: transactions tried again after EBUSY.
   */
  get stats(): { runs: number; lines: number; retried: number; failed: number; busy: number } {
    return { ...this.counts };
  }

  /** Lets the queued runs finish, then closes the transport. Idempotent; runs fail afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending) await new Promise<void>((resolve) => (this.closing = resolve));
    if (this.handle !== undefined) this.transport.close(this.handle);
    this.handle = undefined;
  }

  protected closedError(): Promise<void> | undefined {
    return this.closed ? Promise.reject(new NftError('nft channel is closed')) : undefined;
  }

  /** One run: one transaction of its own or part of a merged one. */
  protected submit(payload: P): Promise<void> {
    const closed = this.closedError();
    if (closed) return closed;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ payload, resolve, reject, solo: false });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      this.closing?.();
      return;
    }
    const runs: Run<P>[] = [this.queue.shift()!];
    if (!runs[0]!.solo) while (runs.length < this.maxMerge && this.queue.length && !this.queue[0]!.solo) runs.push(this.queue.shift()!);
    this.inFlight = runs;
    let handle: H;
    try {
      handle = this.handle ??= this.transport.open();
    } catch (err) {
      this.settle(runs, false, `cannot open the kernel channel: ${(err as Error).message}`);
      return;
    }
    this.transport.run(
      handle,
      runs.map((r) => r.payload),
      (ok, error) => this.settle(runs, ok, error),
    );
  }

  private settle(runs: Run<P>[], ok: boolean, error: string): void {
    const stderr = error.trim();
    this.counts.lines++;
    if (ok) {
      this.inFlight = undefined;
      this.busyTries = 0;
      if (stderr) this.opts.log?.warn({ stderr }, 'nft printed a warning');
      this.counts.runs += runs.length;
      for (const r of runs) r.resolve();
    } else if (BUSY.test(stderr) && this.busyTries < this.busyRetries) {
      // inFlight stays set: later runs wait, so the order of runs is kept
      this.busyTries++;
      this.counts.busy++;
      setTimeout(() => {
        this.inFlight = undefined;
        this.queue.unshift(...runs);
        this.pump();
      }, this.busyRetryMs * this.busyTries);
      return;
    } else if (runs.length === 1) {
      this.inFlight = undefined;
      this.busyTries = 0;
      this.counts.runs++;
      this.counts.failed++;
      runs[0]!.reject(new NftError(`nft: ${stderr || 'transaction failed'}`));
    } else {
      // one bad run aborted the merged transaction: nothing of it was applied; retry each alone, in order
      this.inFlight = undefined;
      this.busyTries = 0;
      this.counts.retried += runs.length;
      this.queue.unshift(...runs.map((r) => ({ ...r, solo: true })));
    }
    this.pump();
  }
}
