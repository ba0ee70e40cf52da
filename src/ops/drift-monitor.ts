/**
 * Drift repair: every `intervalMs` (and on demand, admin `/verify`) the kernel state realmgw installed is
 * compared with what the kernel holds (dataplane/kernel-verify.ts); whatever drifted is repaired with a full
 * apply. Debian's nftables.service flushes the whole ruleset on start and reload; kube-proxy resyncs
 * periodically for the same reason.
 *
 * An episode runs from the first check that finds drift to the repair that ends it: one warning at its start
 * (not one per check), `found` counted once, readiness `kernel` false ("drift: ...") until a repair succeeds.
 * Every repair attempt counts `repaired` or `repairFailed`; a failed one is tried again at the next check.
 * Checks and repairs run through `serialize`, alone among the gateway's other kernel changes (reload).
 */
import type { Drift } from '../dataplane/kernel-verify.js';
import { describeDrift } from '../dataplane/kernel-verify.js';
import type { Logger } from '../log.js';
import type { OperatorCounters } from './operator-counters.js';
import type { Readiness } from './readiness.js';

/** A part of the kernel state that can say what drifted and put it back (the data plane, workers' mappings). */
export interface DriftPart {
  name: string;
  verify(): Promise<Drift[]>;
  repair(drift: readonly Drift[]): Promise<void>;
}

export interface DriftMonitorOptions {
  parts: readonly DriftPart[];
  /** Runs a check alone among kernel changes (Dataplane.serialize). */
  serialize: <T>(fn: () => Promise<T>) => Promise<T>;
  counters: OperatorCounters['drift'];
  readiness: Readiness;
  log: Logger;
  /** Between the end of one check and the start of the next; 0: only on demand. */
  intervalMs: number;
}

/** What one check found and did (the body of admin `/verify`). */
export interface DriftCheck {
  ok: boolean;
  drift: string[];
  repair: 'none' | 'repaired' | 'failed';
  error?: string;
}

export class DriftMonitor {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private episode = false;
  private failedInEpisode = false;
  private running?: Promise<DriftCheck>;
  /** The kernel could not be read at the last check (logged once until a check reads it again). */
  private unreadable = false;

  constructor(private readonly opts: DriftMonitorOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One check (and repair when needed); a check already under way is joined, not doubled. */
  check(): Promise<DriftCheck> {
    this.running ??= this.opts.serialize(() => this.run()).finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped || this.opts.intervalMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check()
        .catch(() => undefined) // run() reports its own failures
        .finally(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<DriftCheck> {
    const { counters, readiness, log } = this.opts;
    counters.checks++;
    const found = new Map<DriftPart, Drift[]>();
    try {
      for (const part of this.opts.parts) {
        const drift = await part.verify();
        if (drift.length) found.set(part, drift);
      }
    } catch (err) {
      // nothing is known to be wrong, so nothing is repaired and readiness stays as it is
      const error = err instanceof Error ? err.message : String(err);
      if (!this.unreadable) log.error({ err: error }, 'cannot read the kernel state to verify it; trying again at the next check');
      this.unreadable = true;
      return { ok: false, drift: [], repair: 'none', error };
    }
    this.unreadable = false;
    const all = [...found.values()].flat();
    if (all.length === 0) {
      if (!this.episode) readiness.set('kernel', true, 'verified');
      return { ok: true, drift: [], repair: 'none' };
    }
    const what = describeDrift(all);
    if (!this.episode) {
      this.episode = true;
      this.failedInEpisode = false;
      counters.found++;
      log.warn({ drift: all.map((d) => d.what) }, `kernel state drifted from what realmgw installed (${what}); repairing with a full apply`);
    }
    readiness.set('kernel', false, `drift: ${what}`);
    try {
      for (const [part, drift] of found) await part.repair(drift);
    } catch (err) {
      counters.repairFailed++;
      const error = err instanceof Error ? err.message : String(err);
      if (!this.failedInEpisode) log.error({ err: error }, 'drift repair failed; trying again at the next check');
      this.failedInEpisode = true;
      return { ok: false, drift: all.map((d) => d.what), repair: 'failed', error };
    }
    counters.repaired++;
    this.episode = false;
    readiness.set('kernel', true, 'repaired');
    log.warn({ drift: all.length }, 'kernel state repaired');
    return { ok: false, drift: all.map((d) => d.what), repair: 'repaired' };
  }
}
