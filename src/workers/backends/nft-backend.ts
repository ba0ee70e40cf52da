/**
 * The nftables MappingBackend: worker leases as elements of realmgw's own table (nft-render.ts renders it).
 *
 * start() is one `nft -f` transaction (leftovers replaced, restored leases included). apply() goes through an
 * NftChannel rather than a spawned `nft -f` per diff: a spawn costs ~5 ms, so 1,000 registrations applied one
 * after another would take ~5 s, against ~1 ms each through the channel (measured with 5,000 leases mapped);
 * concurrent diffs are group-committed, each still all-or-nothing on its own. counters() is one
 * `nft -j list table`.
 */
import type { Logger } from '../../log.js';
import { CommandRunner } from '../../dataplane/command.js';
import { NftChannel, nftApply, nftDeleteTable, nftTableExists } from '../../dataplane/nft.js';
import { runChecked, type Runner } from '../../dataplane/runner.js';
import { compareNft, type Drift, type NftSnapshot } from '../../dataplane/kernel-verify.js';
import { readNftSnapshot } from '../../dataplane/verify-read.js';
import type { Counters } from '../accounting.js';
import type { Lease, LeaseDiff } from '../lease.js';
import type { MappingBackend, MappingBackendOptions } from '../mapping-backend.js';
import { parseNftWorkerCounters } from './nft-counters.js';
import {
  DEFAULT_NFT_WORKERS_TABLE,
  NftWorkersError,
  type NftWorkersSetup,
  compileNftWorkersOptions,
  isNftTableName,
  renderNftWorkersDiff,
  renderNftWorkersStart,
} from './nft-render.js';

export interface NftBackendOptions extends MappingBackendOptions {
  /** Our table's name (family ip); default realmgw_workers. Tests give each run its own. */
  table?: string;
  log?: Logger;
}

export class NftMappingBackend implements MappingBackend {
  readonly kind = 'nftables';
  private readonly setup: NftWorkersSetup;
  private readonly runner: Runner;
  private channel: NftChannel | undefined;
  /** The table's structure right after start() (no elements): what verify() compares with. */
  private installed: NftSnapshot | undefined;

  /** Throws NftWorkersError for bad options. */
  constructor(private readonly opts: NftBackendOptions) {
    this.setup = compileNftWorkersOptions(opts);
    this.runner = opts.runner ?? new CommandRunner(opts.netns);
  }

  get table(): string {
    return this.setup.table;
  }

  async start(leases: readonly Lease[]): Promise<void> {
    const text = renderNftWorkersStart(this.setup, leases); // a refused lease throws before the kernel is touched
    await this.closeChannel();
    this.installed = undefined;
    try {
      await nftApply(this.runner, text);
      this.installed = await readNftSnapshot(this.runner, this.setup.table, false);
      this.channel = new NftChannel({ runner: this.runner, log: this.opts.log });
    } catch (err) {
      // the contract is "nothing installed" after a failed start, leftovers of a killed run included
      await nftDeleteTable(this.runner, this.setup.table).catch(() => undefined);
      throw err;
    }
    this.opts.log?.info({ table: this.setup.table, leases: leases.length }, 'worker mappings installed (nftables)');
  }

  async apply(diff: LeaseDiff): Promise<void> {
    const lines = renderNftWorkersDiff(this.setup, diff);
    if (lines.length === 0) return;
    if (!this.channel) throw new NftWorkersError([`apply() before start() (table ip ${this.setup.table} is not ours yet)`]);
    await this.channel.run(lines.join('\n'));
    await this.forgetConnections(diff.remove.filter((r) => !diff.add.some((a) => a.protocol === r.protocol && a.publicPort === r.publicPort && a.target.address === r.target.address && a.target.port === r.target.port)));
  }

  /**
   * A removed lease stops new flows, but conntrack keeps the NAT binding of flows already running: a UDP stream
   * that never pauses would go on reaching the old worker even after its public port went to someone else.
   * Delete those entries (best effort: the map change is what counts; a failure is logged).
   */
  private async forgetConnections(removed: readonly Lease[]): Promise<void> {
    for (const l of removed) {
      const r = await this.runner.run('conntrack', ['-D', '-p', l.protocol, '--orig-dst', this.opts.publicAddress, '--orig-port-dst', String(l.publicPort)]);
      // exit 1 with "0 flow entries have been deleted" is the usual case: nothing was running
      if (r.code !== 0 && !/0 flow entries have been deleted/.test(r.stderr)) {
        this.opts.log?.warn({ lease: `${l.protocol}/${l.publicPort}`, stderr: r.stderr.trim() }, 'cannot drop the connections of a removed lease');
      }
    }
  }

  repair(leases: readonly Lease[]): Promise<void> {
    return this.start(leases);
  }

  async verify(): Promise<Drift[]> {
    if (!this.installed) return [];
    return compareNft(this.setup.table, this.installed, await readNftSnapshot(this.runner, this.setup.table, false), 'workers');
  }

  async counters(): Promise<Map<string, Counters>> {
    const r = await runChecked(this.runner, 'nft', ['-j', 'list', 'table', 'ip', this.setup.table]);
    return parseNftWorkerCounters(r.stdout, this.setup.table);
  }

  async stop(): Promise<void> {
    this.installed = undefined;
    await this.closeChannel(); // diffs already queued finish first; deleting the table then removes them too
    await nftDeleteTable(this.runner, this.setup.table);
    this.opts.log?.info({ table: this.setup.table }, 'worker mappings removed (nftables)');
  }

  private async closeChannel(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close();
  }
}

/**
 * `realmgw cleanup`: removes our worker table if it is there (and nothing else). Resolves to whether there
 * was one; false too when nft is not installed.
 */
export async function cleanupNftWorkers(runner: Runner, table = DEFAULT_NFT_WORKERS_TABLE): Promise<boolean> {
  if (!isNftTableName(table)) throw new NftWorkersError([`table ${JSON.stringify(table)} is not a plain name (letters, digits, '_')`]);
  if (!(await nftTableExists(runner, table))) return false;
  await nftDeleteTable(runner, table);
  return true;
}
