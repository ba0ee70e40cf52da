/**
 * Talking to nft: one-shot transactions (`nft -f -`, the dry run `nft -c -f -`) and NftChannel, libnftables
 * in process for element operations on the hot path.
 */
import type { Logger } from '../log.js';
import { loadNativeAddon } from './addon.js';
import { CommandRunner } from './command.js';

export class NftError extends Error {
  readonly code = 'RGW_NFT_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'NftError';
  }
}

/** `nft -c -f -`: the kernel checks the whole transaction and discards it (a real dry run; needs root). */
export async function nftCheck(runner: CommandRunner, text: string): Promise<void> {
  const r = await runner.run('nft', ['-c', '-f', '-'], { input: text });
  if (r.code !== 0) throw new NftError(`nft -c rejected the ruleset${r.code === 127 ? ' (nft is not installed)' : ''}:\n${r.stderr.trim()}`);
}

/** `nft -f -`: one atomic transaction. */
export async function nftApply(runner: CommandRunner, text: string): Promise<void> {
  const r = await runner.run('nft', ['-f', '-'], { input: text });
  if (r.code !== 0) throw new NftError(`nft -f failed${r.code === 127 ? ' (nft is not installed)' : ''}:\n${r.stderr.trim()}`);
}

/** Whether `table ip <name>` exists; false when nft is not installed. */
export async function nftTableExists(runner: CommandRunner, table: string): Promise<boolean> {
  const r = await runner.run('nft', ['list', 'tables', 'ip']);
  if (r.code === 127) return false;
  if (r.code !== 0) throw new NftError(`nft list tables: ${r.stderr.trim()}`);
  return r.stdout.split('\n').some((l) => l.trim() === `table ip ${table}`);
}

export async function nftDeleteTable(runner: CommandRunner, table: string): Promise<void> {
  // add first: deleting a table that vanished meanwhile is not an error
  await nftApply(runner, `table ip ${table}\ndelete table ip ${table}\n`);
}

/* ---------- NftChannel ---------- */

export interface NftChannelOptions {
  /** Talk to the nf_tables of this network namespace (a name under /run/netns) instead of our own. */
  netns?: string;
  log?: Logger;
  /** At most this many queued runs are merged into one transaction. Default 64. */
  maxMerge?: number;
  /** How often a transaction the kernel refused with EBUSY is tried again, and after how long. Default 5, 50 ms. */
  busyRetries?: number;
  busyRetryMs?: number;
  /** Tests: the libnftables binding to use instead of the addon's. */
  binding?: NftBinding;
}

type NftHandle = { readonly __nftHandle: unique symbol };

/** The addon's libnftables functions (kernel/nfqueue/src/nft.c). */
export interface NftBinding {
  nftOpen(netnsPath?: string): NftHandle;
  nftRun(h: NftHandle, commands: string, done: (ok: boolean, error: string, output: string) => void): void;
  nftClose(h: NftHandle): void;
}

interface Run {
  commands: string;
  resolve: () => void;
  reject: (err: Error) => void;
  /** sent as a transaction of its own (after a merged one failed) */
  solo: boolean;
}

/**
 * The kernel refuses to add a set element while too many dead copies of its key wait for the set's garbage
 * collection (rhashtable: "Device or resource busy"). The pending sets have a short gc-interval (ruleset.ts),
 * so waiting a little and trying again succeeds.
 */
const BUSY = /Device or resource busy/;

/**
 * Element operations through libnftables, in process (kernel/nfqueue's addon; each transaction runs on
 * libuv's thread pool, off the event loop). `nft -i` cost ~0.5 ms of CPU per reservation, 80 % of it in
 * libedit reading its pipe one byte per read(2); libnftables costs the parse, the netlink batch and the
 * kernel's work.
 *
 * `run(commands)` is ONE nft transaction (all applied or none): the lines of `commands` are joined with
 * "; ", so each must be a complete command (no multi-line { } blocks). Runs are applied in call order.
 * Group commit: one transaction is in flight at a time; runs queued meanwhile go out merged in the next one
 * (up to maxMerge), which costs a fraction of separate ones under load. If a merged transaction fails, its
 * runs are sent again one per transaction, so every run gets its own verdict and a bad run never takes good
 * ones down with it. close() lets queued runs finish.
 */
export class NftChannel {
  private handle: NftHandle | undefined;
  private readonly binding: NftBinding;
  private queue: Run[] = [];
  private inFlight: Run[] | undefined;
  private busyTries = 0;
  private closed = false;
  private closing: (() => void) | undefined;
  private readonly maxMerge: number;
  private readonly busyRetries: number;
  private readonly busyRetryMs: number;
  private counts = { runs: 0, lines: 0, retried: 0, failed: 0, busy: 0 };

  constructor(private readonly opts: NftChannelOptions = {}) {
    this.binding = opts.binding ?? loadNativeAddon<NftBinding>();
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

  run(commands: string): Promise<void> {
    if (this.closed) return Promise.reject(new NftError('nft channel is closed'));
    const parts = commands
      .split('\n')
      .map((l) => l.trim().replace(/;+$/, ''))
      .filter((l) => l && !l.startsWith('#'));
    if (parts.length === 0) return Promise.resolve();
    for (const p of parts) {
      if ((p.match(/{/g)?.length ?? 0) !== (p.match(/}/g)?.length ?? 0)) {
        return Promise.reject(new NftError(`nft channel: each line must be a complete command, got: ${p}`));
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ commands: parts.join('; '), resolve, reject, solo: false });
      this.pump();
    });
  }

  /** Lets the queued runs finish, then frees the nft context. Idempotent; run() fails afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending) await new Promise<void>((resolve) => (this.closing = resolve));
    if (this.handle) this.binding.nftClose(this.handle);
    this.handle = undefined;
  }

  private pump(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      this.closing?.();
      return;
    }
    const runs: Run[] = [this.queue.shift()!];
    if (!runs[0].solo) while (runs.length < this.maxMerge && this.queue.length && !this.queue[0].solo) runs.push(this.queue.shift()!);
    this.inFlight = runs;
    let handle: NftHandle;
    try {
      handle = this.handle ??= this.binding.nftOpen(this.opts.netns === undefined ? undefined : `/run/netns/${this.opts.netns}`);
    } catch (err) {
      this.settle(runs, false, `cannot open libnftables: ${(err as Error).message}`);
      return;
    }
    this.binding.nftRun(handle, runs.map((r) => r.commands).join('; '), (ok, error) => this.settle(runs, ok, error));
  }

  private settle(runs: Run[], ok: boolean, error: string): void {
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
      runs[0].reject(new NftError(`nft: ${stderr || 'transaction failed'}`));
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
