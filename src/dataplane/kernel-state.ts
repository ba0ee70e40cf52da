/**
 * Applies the rendered ruleset to the kernel and removes it again: the only place that changes kernel state
 * wholesale (element operations on the hot path go through ElementChannel).
 *
 * install(): dry-run the nft transaction (nft -c), then ipsets (iptables rules refer to them), the nft table
 * (one atomic transaction that replaces any earlier copy), our iptables chains with exactly one jump from
 * each builtin chain, and finally the removal of ipsets of ours that are no longer wanted. Leftovers of an
 * earlier realmgw (killed with SIGKILL) are replaced, never duplicated. If a step fails, nothing of
 * realmgw's is left behind (what this install added and the leftovers it was replacing) and a
 * KernelStateError names the step.
 *
 * Ownership is by name: the nft table `model.table`, iptables chains `<prefix>-*` and the jumps to them,
 * ipsets `<prefix lowercased>-*`. Nothing else is ever changed.
 */
import type { Logger } from '../log.js';
import { CommandRunner } from './command.js';
import { applyIpsets, destroyIpsets, ipsetPrefix, listIpsets } from './ipset.js';
import { applyIptablesPlan, jumpPresent, planIptables, readIptables, type FirewallFragment } from './iptables.js';
import type { DataplaneModel } from './model.js';
import { nftApply, nftCheck, nftDeleteTable, nftTableExists } from './nft.js';
import { renderRuleset, type RenderedRuleset } from './ruleset.js';

export class KernelStateError extends Error {
  readonly code = 'RGW_KERNEL_STATE';
  constructor(
    /** render | validate | survey | ipsets | nft | iptables | cleanup */
    readonly step: string,
    message: string,
    /** What was removed (cleanup and rollback). */
    readonly removed: string[] = [],
  ) {
    super(`kernel state, ${step}: ${message}`);
    this.name = 'KernelStateError';
  }
}

export interface KernelStateOptions {
  /** Apply inside this network namespace (`ip netns exec`); default: the current one. */
  netns?: string;
  /** The firewall renderer's chains and jumps (table filter). */
  firewall?: FirewallFragment;
}

export interface CleanupOptions {
  table: string;
  prefix: string;
  netns?: string;
  log?: Logger;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function checkNames(table: string, prefix: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(table)) throw new KernelStateError('cleanup', `invalid table name '${table}'`);
  if (!/^[A-Za-z][A-Za-z0-9]{0,11}$/.test(prefix)) throw new KernelStateError('cleanup', `invalid prefix '${prefix}'`);
}

export class KernelState {
  private readonly runner: CommandRunner;

  constructor(
    readonly model: DataplaneModel,
    private readonly log: Logger,
    private readonly opts: KernelStateOptions = {},
  ) {
    this.runner = new CommandRunner(opts.netns);
  }

  /** What install() applies (pure; throws KernelStateError('render') on an inconsistent model). */
  render(): RenderedRuleset {
    try {
      return renderRuleset(this.model, { firewall: this.opts.firewall });
    } catch (err) {
      throw new KernelStateError('render', errText(err));
    }
  }

  async install(): Promise<void> {
    const r = this.render();
    const { table, prefix } = this.model;
    const log = this.log;
    try {
      await nftCheck(this.runner, r.nft);
    } catch (err) {
      throw new KernelStateError('validate', errText(err));
    }
    let step = 'survey';
    try {
      let [sets, saved] = await Promise.all([listIpsets(this.runner), readIptables(this.runner)]);
      if (r.ipsets.length && !sets) throw new Error('the ipset tool is not installed');
      if (r.chains.length && !saved) throw new Error('iptables is not installed');
      const leftovers = [
        ...((await nftTableExists(this.runner, table)) ? [`nft table ip ${table}`] : []),
        ...(saved ?? []).flatMap((t) => [...t.chains.keys()].filter((c) => c.startsWith(`${prefix}-`)).map((c) => `iptables chain ${t.name}/${c}`)),
        ...[...(sets?.keys() ?? [])].filter((n) => n.startsWith(ipsetPrefix(prefix))).map((n) => `ipset ${n}`),
      ];
      if (leftovers.length) log.warn({ leftovers }, 'kernel state of an earlier realmgw found; replacing it');
      // an ipset of ours with another type cannot be refilled in place: start from nothing
      const mismatched = r.ipsets.filter((s) => sets?.has(s.name) && sets.get(s.name) !== s.type).map((s) => s.name);
      if (mismatched.length) {
        log.warn({ ipsets: mismatched }, 'ipsets of an earlier realmgw have another type; removing its state first');
        await KernelState.cleanup({ table, prefix, netns: this.opts.netns, log });
        [sets, saved] = await Promise.all([listIpsets(this.runner), readIptables(this.runner)]);
      }

      step = 'ipsets';
      await applyIpsets(this.runner, r.ipsets);

      step = 'nft';
      await nftApply(this.runner, r.nft);

      step = 'iptables';
      const plan = planIptables(saved ?? [], prefix, { mangle: r.iptables.mangle, filter: r.iptables.filter, jumps: r.jumps, chains: r.chains });
      await applyIptablesPlan(this.runner, plan);
      if (plan.removes.length) log.info({ removed: plan.removes }, 'removed stale iptables state of an earlier realmgw');
      if (r.jumps.length) {
        const after = (await readIptables(this.runner)) ?? [];
        for (const j of r.jumps) {
          const n = after.find((t) => t.name === j.table)?.rules.filter((x) => x.chain === j.chain && x.spec === j.rule).length ?? 0;
          if (n !== 1 || !(await jumpPresent(this.runner, j))) throw new Error(`expected exactly one '-A ${j.chain} ${j.rule}' in table ${j.table}, found ${n}`);
        }
      }

      step = 'ipsets';
      if (sets) {
        const wanted = new Set(r.ipsets.map((s) => s.name));
        const stale = [...sets.keys()].filter((n) => n.startsWith(ipsetPrefix(prefix)) && !wanted.has(n));
        const d = await destroyIpsets(this.runner, stale);
        if (d.destroyed.length) log.info({ ipsets: d.destroyed }, 'removed stale ipsets of an earlier realmgw');
        // in use by somebody else's rule: not ours to fix, and harmless to our state
        for (const e of d.errors) log.warn({ error: e }, 'stale ipset left in place');
      }
    } catch (err) {
      log.error({ step, err: errText(err) }, 'kernel state install failed; removing what it added');
      let removed: string[] = [];
      try {
        removed = (await KernelState.cleanup({ table, prefix, netns: this.opts.netns, log })).removed;
      } catch (e) {
        log.error({ err: errText(e) }, 'rollback incomplete');
        if (e instanceof KernelStateError) removed = e.removed;
      }
      throw new KernelStateError(step, errText(err), removed);
    }
    log.info(
      { table, confirm: this.model.confirm, ipsets: r.ipsets.map((s) => s.name), chains: r.chains.map((c) => `${c.table}/${c.chain}`) },
      'kernel state installed',
    );
  }

  /** Removes everything of ours (table, chains, jumps, ipsets) and nothing else. */
  async uninstall(): Promise<void> {
    const { removed } = await KernelState.cleanup({ table: this.model.table, prefix: this.model.prefix, netns: this.opts.netns, log: this.log });
    this.log.info({ removed }, 'kernel state removed');
  }

  /**
   * Removes realmgw's state by name, whoever installed it: jumps from builtin chains to `<prefix>-*` chains
   * and those chains (iptables first: no more queueing, no more references to our ipsets), the nft table,
   * the `<prefix lowercased>-*` ipsets. Returns what it removed as the equivalent commands; throws a
   * KernelStateError (with `removed`) when something could not be removed, after trying everything.
   */
  static async cleanup(opts: CleanupOptions): Promise<{ removed: string[] }> {
    checkNames(opts.table, opts.prefix);
    const runner = new CommandRunner(opts.netns);
    const removed: string[] = [];
    const errors: string[] = [];
    try {
      const saved = await readIptables(runner);
      if (saved) {
        const plan = planIptables(saved, opts.prefix);
        await applyIptablesPlan(runner, plan);
        removed.push(...plan.removes);
      }
    } catch (err) {
      errors.push(errText(err));
    }
    try {
      if (await nftTableExists(runner, opts.table)) {
        await nftDeleteTable(runner, opts.table);
        removed.push(`nft delete table ip ${opts.table}`);
      }
    } catch (err) {
      errors.push(errText(err));
    }
    try {
      const sets = await listIpsets(runner);
      if (sets) {
        const d = await destroyIpsets(runner, [...sets.keys()].filter((n) => n.startsWith(ipsetPrefix(opts.prefix))));
        removed.push(...d.destroyed.map((n) => `ipset destroy ${n}`));
        errors.push(...d.errors);
      }
    } catch (err) {
      errors.push(errText(err));
    }
    if (errors.length) throw new KernelStateError('cleanup', errors.join('\n'), removed);
    return { removed };
  }
}
