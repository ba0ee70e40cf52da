/**
 * The `ipvs` MappingBackend: a virtual service per lease on the public address (wrr, one masquerading real
 * server, weight 100), FULL-NAT by an iptables SNAT chain of ours (ipvs-snat.ts), accounting from IPVS stats.
 * The only place that runs ipvsadm; what to run is decided in ipvs-plan.ts. Calls are serialised: IPVS has no
 * transactions, so two diffs interleaving could not be rolled back.
 *
 * Forwarding itself (net.ipv4.ip_forward) is the gateway's to enable, not this backend's: replies pass the
 * FORWARD path after the SNAT is undone. `net.ipv4.vs.conntrack` is set to 1 by start and put back by stop;
 * after a killed run the next start finds it at 1 already, and that is what it then leaves behind.
 */
import { CommandRunner } from '../../dataplane/command.js';
import { runChecked, type Runner } from '../../dataplane/runner.js';
import { parseIptablesSave } from '../../dataplane/iptables.js';
import type { Logger } from '../../log.js';
import type { Counters } from '../accounting.js';
import type { Lease, LeaseDiff } from '../lease.js';
import type { PortRange } from '../port-range.js';
import { type MappingBackend, type MappingBackendOptions, leaseId } from '../mapping-backend.js';
import { parseIpvsSave, parseIpvsStats, type IpvsService } from './ipvs-parse.js';
import {
  type IpvsArgs,
  IpvsBackendError,
  type IpvsScope,
  type IpvsStep,
  addSteps,
  countersByLease,
  deleteSavedServiceArgs,
  ownership,
  planDiff,
  planStart,
  restoredLeaseProblems,
  scopeProblems,
} from './ipvs-plan.js';
import { renderSnatInstall, renderSnatRemoval, snatDrift } from './ipvs-snat.js';
import type { Drift } from '../../dataplane/kernel-verify.js';

const CONNTRACK_SYSCTL = 'net.ipv4.vs.conntrack';

export interface IpvsBackendOptions extends MappingBackendOptions {
  /** The lease range: realmgw's services are recognised by it (see ipvs-plan.ts), and SNAT is limited to it. */
  ports: PortRange;
  /**
   * Which iptables carries the SNAT chain: `iptables` (the system's choice) or `iptables-legacy` for kernels
   * without nft NAT chains (the UML guest the tests use).
   */
  iptables?: 'iptables' | 'iptables-legacy';
  log?: Logger;
}

export class IpvsBackend implements MappingBackend {
  readonly kind = 'ipvs' as const;
  private readonly scope: IpvsScope;
  private readonly runner: Runner;
  private readonly iptables: string;
  private readonly log?: Logger;
  private mapped = new Map<string, Lease>();
  private started = false;
  /** The sysctl's value before start set it, to put back on stop. */
  private conntrackBefore: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: IpvsBackendOptions) {
    this.scope = { publicAddress: opts.publicAddress, privateAddress: opts.privateAddress, privateNetwork: opts.privateNetwork, ports: opts.ports };
    const problems = scopeProblems(this.scope);
    if (problems.length) throw new IpvsBackendError('RGW_IPVS_CONFIG', problems.join('; '));
    this.runner = opts.runner ?? new CommandRunner(opts.netns);
    this.iptables = opts.iptables ?? 'iptables';
    this.log = opts.log?.child({ component: 'ipvs-backend' });
  }

  start(leases: readonly Lease[]): Promise<void> {
    return this.serialised(() => this.doStart(leases));
  }

  apply(diff: LeaseDiff): Promise<void> {
    return this.serialised(() => this.doApply(diff));
  }

  /**
   * Service totals (both directions) per mapped lease. Kernels before 6.2 fold their per-CPU counters into
   * what ipvsadm reads every 2 s, on the rate estimator's timer, so a reading may trail traffic by that much
   * (and stands still if net.ipv4.vs.run_estimation is 0).
   */
  counters(): Promise<Map<string, Counters>> {
    return this.serialised(async () => {
      const r = await this.ipvsadm(['-L', '-n', '--stats', '--exact']);
      return countersByLease(parseIpvsStats(r), this.mapped, this.scope.publicAddress);
    });
  }

  stop(): Promise<void> {
    return this.serialised(async () => {
      if (!this.started) return;
      await this.removeEverything();
      this.started = false;
      this.mapped = new Map();
    });
  }

  /** The SNAT chain and its jump (iptables-nft's: `nft flush ruleset` removes them); the services are IPVS's. */
  verify(): Promise<Drift[]> {
    return this.serialised(async () => (this.started ? snatDrift(await this.readNat(), this.scope) : []));
  }

  /** Puts the SNAT chain and its one jump back (the install replaces whatever is left); the services stay. */
  repair(): Promise<void> {
    return this.serialised(async () => {
      if (this.started) await this.installSnat();
    });
  }

  /**
   * `realmgw cleanup`: removes realmgw's services (by the ownership contract, see ipvs-plan.ts) and the SNAT
   * chain without a start, e.g. after a killed run that will not be restarted.
   */
  cleanup(): Promise<void> {
    return this.serialised(async () => {
      await this.removeEverything();
      this.started = false;
      this.mapped = new Map();
    });
  }

  /** The leases currently mapped, by leaseId. */
  get leases(): ReadonlyMap<string, Lease> {
    return this.mapped;
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async doStart(leases: readonly Lease[]): Promise<void> {
    if (this.started) throw new IpvsBackendError('RGW_IPVS_STATE', 'already started');
    const problems = restoredLeaseProblems(leases, this.scope);
    if (problems.length) throw new IpvsBackendError('RGW_IPVS_BAD_DIFF', `restored leases refused, nothing changed: ${problems.join('; ')}`);
    const saved = await this.readServices().catch((err: unknown) => {
      throw new IpvsBackendError('RGW_IPVS_UNAVAILABLE', `cannot read IPVS state (is IPVS in the kernel?): ${(err as Error).message}`, { cause: err });
    });
    const plan = planStart(saved, leases, this.scope);
    for (const s of plan.foreign) {
      this.log?.warn({ service: s.spec.join(' ') }, 'a virtual service that is not realmgw\'s sits in the lease range; left alone, a lease of its port will fail');
    }
    this.started = true; // from here on, a failure removes what was installed
    try {
      await this.enableConntrack();
      await this.installSnat();
      for (const s of plan.stale) await this.ipvsadm(deleteSavedServiceArgs(s));
      if (plan.stale.length) this.log?.info({ removed: plan.stale.map((s) => s.spec.join(' ')) }, 'removed leftovers of an earlier run');
      this.mapped = new Map(plan.kept.map((l) => [leaseId(l), l]));
      for (const lease of plan.add) {
        await this.runSteps(addSteps(lease, this.scope.publicAddress));
        this.mapped.set(leaseId(lease), lease);
      }
    } catch (err) {
      await this.removeEverything().catch((cleanupErr: unknown) => this.log?.error({ err: cleanupErr }, 'cleanup after a failed start failed'));
      this.started = false;
      this.mapped = new Map();
      throw new IpvsBackendError('RGW_IPVS_APPLY', `start failed, nothing of ours left installed: ${(err as Error).message}`, { cause: err });
    }
    this.log?.info({ mapped: this.mapped.size, kept: plan.kept.length }, 'ipvs backend started');
  }

  private async doApply(diff: LeaseDiff): Promise<void> {
    if (!this.started) throw new IpvsBackendError('RGW_IPVS_STATE', 'apply before start');
    const plan = planDiff(this.mapped, diff, this.scope);
    await this.runSteps(plan.steps);
    this.mapped = new Map(plan.next);
  }

  /** Runs steps in order; on a failure undoes the ones done, newest first, then throws. */
  private async runSteps(steps: readonly IpvsStep[]): Promise<void> {
    const done: IpvsStep[] = [];
    for (const step of steps) {
      try {
        await this.ipvsadm(step.run);
      } catch (err) {
        const failures: string[] = [];
        for (const d of done.reverse()) {
          for (const undo of d.undo) await this.ipvsadm(undo).catch((e: unknown) => failures.push((e as Error).message));
        }
        if (failures.length) {
          this.log?.error({ failures }, 'rollback incomplete: IPVS holds a partial diff');
          throw new IpvsBackendError('RGW_IPVS_ROLLBACK', `${(err as Error).message}; rollback incomplete: ${failures.join('; ')}`, { cause: err });
        }
        throw new IpvsBackendError('RGW_IPVS_APPLY', `${(err as Error).message}; ${done.length} earlier step(s) rolled back`, { cause: err });
      }
      done.push(step);
    }
  }

  /** Every service of ours in the kernel (not only the mapped ones: a failed rollback may have left more), SNAT, the sysctl. */
  private async removeEverything(): Promise<void> {
    const failures: string[] = [];
    const saved = await this.readServices().catch((e: unknown) => {
      failures.push((e as Error).message);
      return [] as IpvsService[];
    });
    for (const s of saved) {
      if (ownership(s, this.scope) === 'ours') await this.ipvsadm(deleteSavedServiceArgs(s)).catch((e: unknown) => failures.push((e as Error).message));
    }
    await this.removeSnat().catch((e: unknown) => failures.push((e as Error).message));
    await this.restoreConntrack().catch((e: unknown) => failures.push((e as Error).message));
    if (failures.length) throw new IpvsBackendError('RGW_IPVS_APPLY', `removal incomplete: ${failures.join('; ')}`);
  }

  private async readServices(): Promise<IpvsService[]> {
    return parseIpvsSave(await this.ipvsadm(['-S', '-n']));
  }

  private async ipvsadm(args: IpvsArgs): Promise<string> {
    return (await runChecked(this.runner, 'ipvsadm', args)).stdout;
  }

  /** Without it IPVS bypasses the nat table and the SNAT chain never sees its packets. */
  private async enableConntrack(): Promise<void> {
    const now = (await runChecked(this.runner, 'sysctl', ['-n', CONNTRACK_SYSCTL])).stdout.trim();
    if (now === '1') return;
    await runChecked(this.runner, 'sysctl', ['-q', '-w', `${CONNTRACK_SYSCTL}=1`]);
    this.conntrackBefore = now;
  }

  private async restoreConntrack(): Promise<void> {
    if (this.conntrackBefore === undefined) return;
    await runChecked(this.runner, 'sysctl', ['-q', '-w', `${CONNTRACK_SYSCTL}=${this.conntrackBefore}`]);
    this.conntrackBefore = undefined;
  }

  private async readNat() {
    const r = await runChecked(this.runner, `${this.iptables}-save`, ['-t', 'nat']);
    return parseIptablesSave(r.stdout);
  }

  private async installSnat(): Promise<void> {
    await runChecked(this.runner, `${this.iptables}-restore`, ['-w', '--noflush'], { input: renderSnatInstall(await this.readNat(), this.scope) });
  }

  private async removeSnat(): Promise<void> {
    const text = renderSnatRemoval(await this.readNat());
    if (text) await runChecked(this.runner, `${this.iptables}-restore`, ['-w', '--noflush'], { input: text });
  }
}
