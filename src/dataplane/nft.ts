/**
 * Talking to nft through a Runner: one-shot transactions (`nft -f -`, the dry run `nft -c -f -`) and
 * NftChannel (nft commands through libnftables, in process).
 */
import { CommandRunner, type NftBinding } from './command.js';
import { KernelChannel, NftError, type KernelChannelOptions } from './kernel-channel.js';
import type { Runner } from './runner.js';

export { NftError, type NftBinding };

/** `nft -c -f -`: the kernel checks the whole transaction and discards it (a real dry run; needs root). */
export async function nftCheck(runner: Runner, text: string): Promise<void> {
  const r = await runner.run('nft', ['-c', '-f', '-'], { input: text });
  if (r.code !== 0) throw new NftError(`nft -c rejected the ruleset${r.code === 127 ? ' (nft is not installed)' : ''}:\n${r.stderr.trim()}`);
}

/** `nft -f -`: one atomic transaction. */
export async function nftApply(runner: Runner, text: string): Promise<void> {
  const r = await runner.run('nft', ['-f', '-'], { input: text });
  if (r.code !== 0) throw new NftError(`nft -f failed${r.code === 127 ? ' (nft is not installed)' : ''}:\n${r.stderr.trim()}`);
}

/** Whether `table ip <name>` exists; false when nft is not installed. */
export async function nftTableExists(runner: Runner, table: string): Promise<boolean> {
  const r = await runner.run('nft', ['list', 'tables', 'ip']);
  if (r.code === 127) return false;
  if (r.code !== 0) throw new NftError(`nft list tables: ${r.stderr.trim()}`);
  return r.stdout.split('\n').some((l) => l.trim() === `table ip ${table}`);
}

export async function nftDeleteTable(runner: Runner, table: string): Promise<void> {
  // add first: deleting a table that vanished meanwhile is not an error
  await nftApply(runner, `table ip ${table}\ndelete table ip ${table}\n`);
}

/* ---------- NftChannel ---------- */

export interface NftChannelOptions extends KernelChannelOptions {
  /** Whose libnftables session to use (default: a CommandRunner for `netns`). */
  runner?: Runner;
  /** Talk to the nf_tables of this network namespace (a name under /run/netns) instead of our own. */
  netns?: string;
  /** Tests: the libnftables binding to use instead of the addon's. */
  binding?: NftBinding;
}

/**
 * Text commands through libnftables, in process (kernel/nfqueue's addon; each transaction runs on libuv's
 * thread pool, off the event loop). `nft -i` cost ~0.5 ms of CPU per reservation, 80 % of it in libedit
 * reading its pipe one byte per read(2). libnftables still re-reads the whole ruleset before a command that
 * follows a committed change (0.1-0.6 ms), so the reservation hot path uses ElementChannel
 * (nft-elements.ts) instead; this channel serves the workers' nftables backend, tests, and anything that
 * needs nft's language.
 *
 * `run(commands)` is ONE nft transaction (all applied or none): the lines of `commands` are joined with
 * "; ", so each must be a complete command (no multi-line { } blocks). Ordering, group commit, solo retry
 * of a failed merged transaction and EBUSY retries: KernelChannel.
 */
export class NftChannel extends KernelChannel<string> {
  constructor(opts: NftChannelOptions = {}) {
    const runner = opts.runner ?? new CommandRunner(opts.netns, { nft: opts.binding });
    super(() => runner.openNft(), opts);
  }

  run(commands: string): Promise<void> {
    const parts = commands
      .split('\n')
      .map((l) => l.trim().replace(/;+$/, ''))
      .filter((l) => l && !l.startsWith('#'));
    if (parts.length === 0) return this.closedError() ?? Promise.resolve();
    for (const p of parts) {
      if ((p.match(/{/g)?.length ?? 0) !== (p.match(/}/g)?.length ?? 0)) {
        return Promise.reject(new NftError(`nft channel: each line must be a complete command, got: ${p}`));
      }
    }
    return this.submit(parts.join('; '));
  }
}
