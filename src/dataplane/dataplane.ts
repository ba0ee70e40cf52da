import type { Logger } from '../log.js';
import type { CircularPool, Reservation } from '../pool/circular-pool.js';
import { emptyStats, type Confirmation, type ConfirmationDeps, type ConfirmLag, type DataplaneStats } from './confirmation.js';
import { KernelState } from './kernel-state.js';
import type { Drift } from './kernel-verify.js';
import type { DataplaneModel } from './model.js';
import { NfqueueConfirmation } from './nfqueue-confirmation.js';
import { NftsetConfirmation } from './nftset-confirmation.js';
import type { RenderedRuleset } from './ruleset.js';

export type { DataplaneStats } from './confirmation.js';

const strategies: Record<DataplaneModel['confirm'], (deps: ConfirmationDeps) => Confirmation> = {
  nfqueue: (deps) => new NfqueueConfirmation(deps),
  nftset: (deps) => new NftsetConfirmation(deps),
};

/**
 * The kernel side of the gateway at run time: installs realmgw's compiled kernel state, then confirms first
 * packets with the strategy of its mode: in userspace (nfqueue: the pool decides and the verdict's mark
 * selects the DNAT target) or by handing each reservation to the kernel as a single-use nft set element
 * (nftset). stop() stops the strategy (every queued packet has had its verdict: verdicts are given
 * synchronously) and removes the kernel state. Established flows never depend on realmgw: conntrack carries
 * them across a crash or restart.
 *
 * Both modes: a reservation bound to a client subnet (Reservation.source, the query's ECS) is consumed only by
 * a packet from it; a TCP reservation only by a completed handshake: its SYN is DNATed without consuming it,
 * the connection's handshake ACK consumes it (ruleset.ts explains the rules and what a spoofed SYN costs).
 * nfqueue: the ACK is queued again and the pool consumes it here. nftset: the kernel consumes it and tags the
 * connection; the pool learns it from the conntrack UPDATE event. A SYN whose handshake never completes
 * consumes nothing, so its reservation expires as unused (the pool counts it expired). Limits: a handshake that
 * completes after its reservation expired is refused (a SYN in the last round trip of the lifetime); an ACK
 * that passed while realmgw was down (queue-bypass, nfqueue) leaves its connection pending, and a restarted
 * realmgw, which has lost the pool, refuses it at its next packet.
 */
export class Dataplane {
  private current: DataplaneModel;
  /** The tail of the kernel-changing operations (reload, drift repair): each starts when the previous ended. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats: DataplaneStats = emptyStats();
  private readonly kernel: KernelState;
  private readonly confirmation: Confirmation;
  /** Undefined in a mode that needs nothing per reservation: the DNS answer then waits for nothing. */
  readonly reserve?: (r: Reservation) => Promise<void> | undefined;

  /** `compiled`: the kernel part of the compiled gateway (compile/), its model and what it renders to. */
  constructor(compiled: { model: DataplaneModel; ruleset: RenderedRuleset }, pool: CircularPool, now: () => number, private readonly log: Logger) {
    this.current = compiled.model;
    this.kernel = new KernelState(this.model, log, { ruleset: compiled.ruleset });
    this.confirmation = strategies[this.model.confirm]({ model: this.model, pool, now, log, stats: this.stats });
    this.reserve = this.confirmation.reserve;
  }

  async start(): Promise<void> {
    await this.kernel.install();
    try {
      await this.confirmation.start();
    } catch (err) {
      await this.kernel.uninstall().catch(() => undefined);
      throw err;
    }
    this.log.info({ confirm: this.model.confirm, queue: this.model.queue, unmatched: this.model.unmatched }, 'data plane installed');
  }

  get model(): DataplaneModel {
    return this.current;
  }

  /**
   * Runs `fn` once every kernel-changing operation queued before it has ended (whatever their outcome), so a
   * reload and a drift repair never interleave their transactions and surveys.
   */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * A reload's kernel part: the new compiled state applied in place (KernelState.update), then the
   * confirmation strategy told the new model (nfqueue: host marks). Same table, prefix, mode and queue as
   * before (the reload refuses other changes). Returns the nft operations.
   */
  update(compiled: { model: DataplaneModel; ruleset: RenderedRuleset }): Promise<string[]> {
    return this.serialize(async () => {
      const ops = await this.kernel.update(compiled);
      this.current = compiled.model;
      this.confirmation.modelChanged?.(compiled.model);
      return ops;
    });
  }

  /** Whatever is not as installed (kernel-verify.ts), the strategy's own state included; empty when nothing. */
  async verify(): Promise<Drift[]> {
    const [kernel, own] = await Promise.all([this.kernel.verify(), this.confirmation.verify()]);
    return [...kernel, ...own];
  }

  /**
   * Drift repair: the full install (it replaces whatever of ours is left, in one nft transaction), then what
   * the confirmation strategy needs beyond the rendered state. Call it through serialize().
   */
  async repair(drift: readonly Drift[]): Promise<void> {
    await this.kernel.install({ repair: true });
    this.confirmation.kernelReplaced();
    await this.confirmation.resync(drift);
  }

  /** Reads what the kernel counted (nftset's refusal counters) into stats; for /stats, never on a timer. */
  refreshKernelCounters(): Promise<void> {
    return this.confirmation.refreshKernelCounters();
  }

  /** nftset mode: percentiles of the recent reservation-to-consumption times (ms), for /stats. */
  confirmLag(): ConfirmLag | undefined {
    return this.confirmation.confirmLag();
  }

  /** After any kernel change still under way (a reload's transaction is not cut in half by the removal). */
  stop(): Promise<void> {
    return this.serialize(async () => {
      await this.confirmation.stop();
      await this.kernel.uninstall();
      this.log.info('data plane removed');
    });
  }
}
