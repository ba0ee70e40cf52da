/**
 * A transaction channel into nf_tables through a Runner's session (libnftables text or set-element batches),
 * group-committed (src/util/group-commit.ts): ordering, merging and solo retry of a refused merged
 * transaction. The session opens at the first transaction, so creating a channel never touches the kernel.
 *
 * EBUSY: the kernel refuses to add a set element while too many dead copies of its key wait for the set's
 * garbage collection (rhashtable). The pending sets collect every 20 ms (ruleset.ts), so the transaction is
 * tried again after a pause, still ahead of everything queued behind it.
 */
import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';
import type { Logger } from '../log.js';
import { GroupCommit, type GroupCommitOptions, type GroupCommitStats } from '../util/group-commit.js';
import type { KernelSession } from './runner.js';

export class NftError extends Error {
  readonly code = 'RGW_NFT_FAILED' satisfies ErrorCode;
  constructor(message: string) {
    super(errorMessage('RGW_NFT_FAILED', { reason: message }));
    this.name = 'NftError';
  }
}

export interface KernelChannelOptions extends GroupCommitOptions {
  log?: Logger;
  /** How often a transaction the kernel refused with EBUSY is tried again, and after how long. Default 5, 50 ms. */
  busyRetries?: number;
  busyRetryMs?: number;
}

const BUSY = /Device or resource busy/;

export class KernelChannel<P> {
  private session: KernelSession<P> | undefined;
  private readonly commits: GroupCommit<P>;

  constructor(
    private readonly open: () => KernelSession<P>,
    private readonly opts: KernelChannelOptions = {},
  ) {
    const busyRetries = opts.busyRetries ?? 5;
    const busyRetryMs = opts.busyRetryMs ?? 50;
    this.commits = new GroupCommit<P>(
      {
        commit: (payloads) => this.transaction(payloads),
        retryAfter: (err, attempt) => (BUSY.test(err.message) && attempt <= busyRetries ? busyRetryMs * attempt : undefined),
        closedError: () => new NftError('nft channel is closed'),
      },
      opts,
    );
  }

  /** Runs not yet settled. */
  get pending(): number {
    return this.commits.pending;
  }

  /**
   * runs: settled runs; lines: transactions executed; retried: runs re-sent alone after a merged transaction
   * failed; busy: transactions tried again after EBUSY.
   */
  get stats(): GroupCommitStats {
    return this.commits.stats;
  }

  /** Lets the queued runs finish, then closes the session. Idempotent; runs fail afterwards. */
  async close(): Promise<void> {
    await this.commits.close();
    this.session?.close();
    this.session = undefined;
  }

  protected closedError(): Promise<void> | undefined {
    return this.commits.isClosed ? Promise.reject(new NftError('nft channel is closed')) : undefined;
  }

  /** One run: one transaction of its own or part of a merged one. */
  protected submit(payload: P): Promise<void> {
    return this.commits.submit(payload);
  }

  private transaction(payloads: P[]): Promise<void[]> {
    let session: KernelSession<P>;
    try {
      session = this.session ??= this.open();
    } catch (err) {
      return Promise.reject(new NftError(`nft: cannot open the kernel channel: ${(err as Error).message}`));
    }
    return new Promise((resolve, reject) =>
      session.run(payloads, (ok, error) => {
        const stderr = error.trim();
        if (!ok) return reject(new NftError(`nft: ${stderr || 'transaction failed'}`));
        if (stderr) this.opts.log?.warn({ stderr }, 'nft printed a warning');
        resolve(payloads.map(() => undefined));
      }),
    );
  }
}
