/**
 * Applies the rendered ruleset to the kernel and removes it again: the only place that changes kernel state
 * wholesale (element operations on the hot path go through ElementChannel). Every command goes through a
 * Runner (runner.ts): the real tools by default, the in-memory fake in unit tests.
 *
 * install() is survey (read what is there), plan (kernel-plan.ts, pure: what to add, replace, remove) and
 * apply: dry-run the nft transaction (nft -c), then ipsets (iptables rules refer to them), the nft table
 * (one atomic transaction that replaces any earlier copy), our iptables chains with exactly one jump from
 * each builtin chain, and finally the removal of ipsets of ours that are no longer wanted. Leftovers of an
 * earlier realmgw (killed with SIGKILL) are replaced, never duplicated. If a step fails, nothing of
 * realmgw's is left behind (what this install added and the leftovers it was replacing) and a
 * KernelStateError names the step.
 *
 * verify() compares the kernel with a snapshot read back right after install (kernel-verify.ts says what
 * counts): drift repair (ops/drift-monitor.ts) installs again when something is missing or changed.
 *
 * Ownership is by name: the nft table `model.table`, iptables chains `<prefix>-*` and the jumps to them,
 * ipsets `<prefix lowercased>-*`. Nothing else is ever changed.
 */
import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';
import type { Logger } from '../log.js';
import { CommandRunner } from './command.js';
import { applyIpsets, destroyIpsets, ipsetPrefix, listIpsets } from './ipset.js';
import { applyIptablesPlan, jumpPresent, planIptables, readIptables, type FirewallFragment } from './iptables.js';
import { planInstall, type InstallPlan, type KernelSurvey } from './kernel-plan.js';
import { compareIpsets, compareIptables, compareNft, iptablesSnapshot, type Drift, type IptablesSnapshot, type NftSnapshot } from './kernel-verify.js';
import type { DataplaneModel } from './model.js';
import { nftApply, nftCheck, nftDeleteTable, nftTableExists } from './nft.js';
import type { Runner } from './runner.js';
import { renderRuleset, type RenderedRuleset } from './ruleset.js';
import { renderNftUpdate } from './kernel-update.js';
import { readNftSnapshot } from './verify-read.js';

export class KernelStateError extends Error {
  readonly code = 'RGW_KERNEL_STATE' satisfies ErrorCode;
  constructor(
    /** render | validate | survey | ipsets | nft | iptables | cleanup */
    readonly step: string,
    message: string,
    /** What was removed (cleanup and rollback). */
    readonly removed: string[] = [],
  ) {
    super(errorMessage('RGW_KERNEL_STATE', { step, reason: message }));
    this.name = 'KernelStateError';
  }
}

export interface KernelStateOptions {
  /** Apply inside this network namespace (`ip netns exec`); default: the current one. */
  netns?: string;
  /** Who runs the commands (default: the real tools, in `netns`). */
  runner?: Runner;
  /** The firewall renderer's chains and jumps (table filter). */
  firewall?: FirewallFragment;
  /** The state compiled with the model (compile.ts): installed as it is, never rendered again. */
  ruleset?: RenderedRuleset;
}

export interface CleanupOptions {
  table: string;
  prefix: string;
  netns?: string;
  /** Who runs the commands (default: the real tools, in `netns`). */
  runner?: Runner;
  log?: Logger;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function checkNames(table: string, prefix: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(table)) throw new KernelStateError('cleanup', `invalid table name '${table}'`);
  if (!/^[A-Za-z][A-Za-z0-9]{0,11}$/.test(prefix)) throw new KernelStateError('cleanup', `invalid prefix '${prefix}'`);
}

/** Reads what install() decides on: ipsets, iptables and whether our table is there. */
export async function surveyKernel(runner: Runner, table: string): Promise<KernelSurvey> {
  const [ipsets, iptables, present] = await Promise.all([listIpsets(runner), readIptables(runner), nftTableExists(runner, table)]);
  return { ipsets, iptables, table: present };
}

export class KernelState {
  private readonly runner: Runner;
  private current: DataplaneModel;
  /** What the kernel held right after the last install: what verify() compares with (kernel-verify.ts). */
  private installed?: { nft: NftSnapshot; iptables: IptablesSnapshot };

  constructor(
    model: DataplaneModel,
    private readonly log: Logger,
    private readonly opts: KernelStateOptions = {},
  ) {
    this.current = model;
    this.runner = opts.runner ?? new CommandRunner(opts.netns);
  }

  /** The model installed (the one given, or the last update's). */
  get model(): DataplaneModel {
    return this.current;
  }

  /** What install() applies (pure; throws KernelStateError('render') on an inconsistent model). */
  render(): RenderedRuleset {
    if (this.opts.ruleset) return this.opts.ruleset;
    try {
      return renderRuleset(this.model, { firewall: this.opts.firewall });
    } catch (err) {
      throw new KernelStateError('render', errText(err));
    }
  }

  /** `repair`: drift repair's full apply (state of ours found in place is expected, not an earlier run's). */
  async install(opts: { repair?: boolean } = {}): Promise<void> {
    this.installed = undefined;
    const r = this.render();
    const { table, prefix } = this.model;
    const log = this.log;
    try {
      await nftCheck(this.runner, r.nft);
    } catch (err) {
      throw new KernelStateError('validate', errText(err));
    }
    const step = { name: 'survey' };
    try {
      let plan = planInstall(await surveyKernel(this.runner, table), r, { table, prefix });
      if (plan.leftovers.length && !opts.repair) log.warn({ leftovers: plan.leftovers }, 'kernel state of an earlier realmgw found; replacing it');
      if (plan.mismatched.length) {
        log.warn({ ipsets: plan.mismatched }, 'ipsets of an earlier realmgw have another type; removing its state first');
        await this.cleanup();
        plan = planInstall(await surveyKernel(this.runner, table), r, { table, prefix });
      }
      await this.apply(plan, step);
      step.name = 'survey';
      this.installed = await this.snapshot(r);
    } catch (err) {
      log.error({ step: step.name, err: errText(err) }, 'kernel state install failed; removing what it added');
      let removed: string[] = [];
      try {
        removed = (await this.cleanup()).removed;
      } catch (e) {
        log.error({ err: errText(e) }, 'rollback incomplete');
        if (e instanceof KernelStateError) removed = e.removed;
      }
      throw new KernelStateError(step.name, errText(err), removed);
    }
    log.info(
      { table, confirm: this.model.confirm, ipsets: r.ipsets.map((s) => s.name), chains: r.chains.map((c) => `${c.table}/${c.chain}`) },
      'kernel state installed',
    );
  }

  /**
   * What differs from the state install() put in place (kernel-verify.ts says what counts); empty when
   * nothing does. Before a successful install everything is missing.
   */
  async verify(): Promise<Drift[]> {
    const r = this.render();
    const { table } = this.model;
    if (!this.installed) return [{ part: 'nft', what: 'kernel state not installed' }];
    const [nft, saved, sets] = await Promise.all([readNftSnapshot(this.runner, table), readIptables(this.runner), listIpsets(this.runner)]);
    return [
      ...compareNft(table, this.installed.nft, nft),
      ...compareIptables({ chains: r.chains, rules: this.installed.iptables, jumps: r.jumps }, saved),
      ...compareIpsets(r.ipsets, sets),
    ];
  }

  /**
   * Takes the reference for verify() again from what the kernel holds now: after a change made outside
   * install() (a reload's differential apply), which would otherwise look like drift.
   */
  async rememberInstalled(): Promise<void> {
    this.installed = await this.snapshot(this.render());
  }

  /** The reference for verify(), read back from the kernel (its own spelling of what we rendered). */
  private async snapshot(r: RenderedRuleset): Promise<{ nft: NftSnapshot; iptables: IptablesSnapshot }> {
    const [nft, saved] = await Promise.all([readNftSnapshot(this.runner, this.model.table), readIptables(this.runner)]);
    if (!nft) throw new Error(`table ip ${this.model.table} is not there right after its install`);
    return { nft, iptables: iptablesSnapshot(saved ?? [], r.chains) };
  }

  /** Removes everything of ours (table, chains, jumps, ipsets) and nothing else. */
  async uninstall(): Promise<void> {
    this.installed = undefined;
    const { removed } = await this.cleanup();
    this.log.info({ removed }, 'kernel state removed');
  }

  /**
   * A reload: from the installed state to `next` in place (kernel-update.ts): one nft transaction that never
   * deletes the table (reservation elements and counters survive), then ipsets and iptables through the same
   * idempotent plan as install(). Table, prefix and confirmation mode must not change (the reload refuses
   * that earlier). On failure nothing is rolled back or removed: the nft part runs first, after its dry run,
   * all or nothing (a failure there changes nothing); ipsets and iptables follow and are idempotent, so the
   * next reload or drift repair completes them; the error names the step. Returns the nft
   * operations, for the log. Run it through Dataplane.serialize.
   */
  async update(next: { model: DataplaneModel; ruleset: RenderedRuleset }): Promise<string[]> {
    const installed = this.render();
    const { table, prefix } = this.current;
    if (next.model.table !== table || next.model.prefix !== prefix) throw new KernelStateError('render', 'the table name and prefix cannot change in a reload');
    let nft;
    try {
      nft = renderNftUpdate(table, installed.nft, next.ruleset.nft);
    } catch (err) {
      throw new KernelStateError('render', errText(err));
    }
    try {
      if (nft.text) await nftCheck(this.runner, nft.text);
    } catch (err) {
      throw new KernelStateError('validate', errText(err));
    }
    const step = { name: 'survey' };
    try {
      const plan = planInstall(await surveyKernel(this.runner, table), next.ruleset, { table, prefix });
      if (plan.mismatched.length) throw new Error(`ipsets ${plan.mismatched.join(', ')} would change type: restart realmgw to apply it`);
      // an ipset refill is a flush then adds (ipset.ts): only the sets whose members changed pay that instant
      const was = new Map(installed.ipsets.map((i) => [i.name, i]));
      const ipsets = plan.ipsets.filter((i) => JSON.stringify(was.get(i.name)) !== JSON.stringify(i));
      // nft first: the one all-or-nothing step, and nothing in it refers to an ipset; a failure there
      // leaves the kernel exactly as it was
      step.name = 'nft';
      if (nft.text) await nftApply(this.runner, nft.text);
      // the table is the new one from here on, whatever follows: the next update starts from it
      this.opts.ruleset = { ...installed, nft: next.ruleset.nft };
      await this.apply({ ...plan, ipsets, nft: '' }, step);
    } catch (err) {
      this.log.error({ step: step.name, err: errText(err) }, 'kernel state update failed');
      throw new KernelStateError(step.name, errText(err));
    }
    this.current = next.model;
    this.opts.ruleset = next.ruleset;
    // What drift checks compare with from now on: the updated state, or the next check would call the reload
    // itself drift and reinstall. Unreadable now: the next check finds "not installed" and repairs, which is safe.
    await this.rememberInstalled().catch((err: unknown) => {
      this.installed = undefined;
      this.log.warn({ err: errText(err) }, 'could not read the updated kernel state; the next drift check reinstalls it');
    });
    this.log.info({ table, nft: nft.operations }, 'kernel state updated in place');
    return nft.operations;
  }

  /** Carries out a plan in order; `step` names the step under way when one throws. */
  private async apply(plan: InstallPlan, step: { name: string }): Promise<void> {
    const { runner, log } = this;
    step.name = 'ipsets';
    await applyIpsets(runner, plan.ipsets);

    step.name = 'nft';
    if (plan.nft) await nftApply(runner, plan.nft);

    step.name = 'iptables';
    await applyIptablesPlan(runner, plan.iptables);
    if (plan.iptables.removes.length) log.info({ removed: plan.iptables.removes }, 'removed stale iptables state of an earlier realmgw');
    if (plan.jumps.length) {
      const after = (await readIptables(runner)) ?? [];
      for (const j of plan.jumps) {
        const n = after.find((t) => t.name === j.table)?.rules.filter((x) => x.chain === j.chain && x.spec === j.rule).length ?? 0;
        if (n !== 1 || !(await jumpPresent(runner, j))) throw new Error(`expected exactly one '-A ${j.chain} ${j.rule}' in table ${j.table}, found ${n}`);
      }
    }

    step.name = 'ipsets';
    const d = await destroyIpsets(runner, plan.staleIpsets);
    if (d.destroyed.length) log.info({ ipsets: d.destroyed }, 'removed stale ipsets of an earlier realmgw');
    // in use by somebody else's rule: not ours to fix, and harmless to our state
    for (const e of d.errors) log.warn({ error: e }, 'stale ipset left in place');
  }

  private cleanup(): Promise<{ removed: string[] }> {
    return KernelState.cleanup({ table: this.model.table, prefix: this.model.prefix, runner: this.runner, log: this.log });
  }

  /**
   * Removes realmgw's state by name, whoever installed it: jumps from builtin chains to `<prefix>-*` chains
   * and those chains (iptables first: no more queueing, no more references to our ipsets), the nft table,
   * the `<prefix lowercased>-*` ipsets. Returns what it removed as the equivalent commands; throws a
   * KernelStateError (with `removed`) when something could not be removed, after trying everything.
   */
  static async cleanup(opts: CleanupOptions): Promise<{ removed: string[] }> {
    checkNames(opts.table, opts.prefix);
    const runner = opts.runner ?? new CommandRunner(opts.netns);
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
