import type { Logger } from '../log.js';
import type { CircularPool, Reservation } from '../pool/circular-pool.js';
import type { GatewayInputs } from '../inputs.js';
import { buildDataplaneModel } from './build-model.js';
import { ConntrackEvents, type NewFlow } from './conntrack-events.js';
import { renderFirewall } from './firewall.js';
import { KernelState } from './kernel-state.js';
import type { DataplaneModel } from './model.js';
import { NfQueue } from './nfqueue.js';
import { ElementChannel, type ElementOp } from './nft-elements.js';
import { parseIpv4 } from './packet.js';
import { PLAN_MARGIN_MS, planOps, planReservation, slotDeleteOps, type SlotState } from './reservation-plan.js';
import { decideVerdict, type VerdictPolicy } from './verdict.js';

export interface DataplaneStats {
  confirmed: number;
  refused: number;
  unparsable: number;
  kernelOps: number;
  kernelOpFailures: number;
}

/**
 * The kernel side of the gateway at run time: installs realmgw's kernel state, then confirms first packets
 * either in userspace (NFQUEUE: the pool decides and the verdict's mark selects the DNAT target) or by
 * handing each reservation to the kernel as a single-use nft set element (nftset). stop() closes the queue
 * (every queued packet has had its verdict: verdicts are given synchronously) and removes the kernel state.
 * Established flows never depend on realmgw: conntrack carries them across a crash or restart.
 */
export class Dataplane {
  readonly model: DataplaneModel;
  readonly stats: DataplaneStats = { confirmed: 0, refused: 0, unparsable: 0, kernelOps: 0, kernelOpFailures: 0 };
  private readonly kernel: KernelState;
  private queue?: NfQueue;
  private channel?: ElementChannel;
  private events?: ConntrackEvents;
  private readonly policy: VerdictPolicy;
  /** nftset mode: per (address, protocol, port), what the kernel holds for it (reservation-plan.ts). */
  private readonly kernelSlots = new Map<string, SlotState>();
  private reservationsSinceSweep = 0;
  /** nftset mode: the last CONFIRM_LAG_SAMPLES times from reservation to its consumption reaching the pool. */
  private readonly confirmLags = new Float64Array(CONFIRM_LAG_SAMPLES);
  private confirmLagCount = 0;

  constructor(
    inputs: GatewayInputs,
    private readonly pool: CircularPool,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    this.model = buildDataplaneModel(inputs);
    this.kernel = new KernelState(this.model, log, { firewall: renderFirewall(this.model) });
    this.policy = {
      markBase: this.model.markBase,
      unmatched: this.model.unmatched,
      markIndex: new Map(this.model.hosts.map((h) => [h.id, h.markIndex])),
    };
  }

  async start(): Promise<void> {
    await this.kernel.install();
    try {
      if (this.model.confirm === 'nfqueue') {
        this.queue = NfQueue.open(
          { queueNum: this.model.queue.num, failOpen: false, onError: (err) => this.log.warn({ err }, 'nfqueue') },
          (p) => this.onPacket(p.id, p.payload),
        );
      } else {
        this.channel = new ElementChannel({ table: this.model.table, log: this.log });
        this.events = new ConntrackEvents((f) => this.onNewFlow(f), this.log);
        await this.events.start();
      }
    } catch (err) {
      await this.events?.stop();
      await this.channel?.close();
      await this.kernel.uninstall().catch(() => undefined);
      throw err;
    }
    this.log.info({ confirm: this.model.confirm, queue: this.model.queue, unmatched: this.model.unmatched }, 'data plane installed');
  }

  private onPacket(id: number, payload: Buffer): void {
    let pkt = parseIpv4(payload);
    // conntrack reassembles before the queue; a fragment here has no ports and could match a port wildcard.
    if (pkt?.fragment) pkt = undefined;
    if (!pkt) this.stats.unparsable++;
    const v = decideVerdict(this.pool, this.policy, pkt && { src: pkt.src, dst: pkt.dst, protocol: pkt.protocol, dstPort: pkt.dstPort }, this.now());
    if (v.kind === 'accept') {
      this.stats.confirmed++;
      this.queue!.verdict(id, 'accept', v.mark);
    } else {
      this.stats.refused++;
      if (v.kind === 'reject') this.queue!.verdict(id, 'accept', v.mark);
      else this.queue!.verdict(id, 'drop');
    }
  }

  /** nftset mode: a DNATed new flow to a pool address means the kernel consumed a reservation; so does the pool. */
  private onNewFlow(f: NewFlow): void {
    if (f.replySrc === f.dst || !this.pool.contains(f.dst)) return;
    const r = this.pool.consume({ dst: f.dst, protocol: f.protocol, port: f.dstPort, src: f.src }, this.now());
    if (!r) return;
    this.stats.confirmed++;
    // how long the slot stayed taken: DNS answer, client, first packet, conntrack event (the pool's turnover)
    this.confirmLags[this.confirmLagCount++ % CONFIRM_LAG_SAMPLES] = this.now() - r.createdAt;
    const slot = this.kernelSlots.get(slotOf(r));
    if (slot) slot.consumed = true;
  }

  /**
   * nftset mode: the kernel must hold the reservation before the DNS answer leaves. Whatever an earlier
   * reservation of the same slot left that would get in the way goes in the same transaction
   * (reservation-plan.ts), so every reservation costs one kernel transaction and releases cost none.
   */
  onReserve(r: Reservation): Promise<void> | undefined {
    if (!this.channel) return undefined;
    const now = this.now();
    const slot = slotOf(r);
    const previous = this.kernelSlots.get(slot);
    const plan = planReservation(previous, r.target, r.expiresAt - r.createdAt, now);
    this.kernelSlots.set(slot, plan.next);
    if (++this.reservationsSinceSweep >= 4096) this.sweepSlots(now);
    const el = { address: r.address, protocol: r.key.protocol, port: r.key.port };
    return this.kernelOp(planOps(plan, el, r.target, previous?.target)).catch((err: unknown) => {
      // The transaction changed nothing, but the slot may hold something we did not expect: remove whatever
      // is there (each delete alone, its failure meaning there was nothing) and plan the next from scratch.
      this.kernelSlots.delete(slot);
      for (const ops of slotDeleteOps(el)) void this.channel?.run(ops).catch(() => undefined);
      throw err;
    });
  }

  /** nftset mode: percentiles of the recent reservation-to-consumption times (ms), for /stats. */
  confirmLag(): { samples: number; p50: number; p90: number; p99: number } | undefined {
    const n = Math.min(this.confirmLagCount, CONFIRM_LAG_SAMPLES);
    if (n === 0) return undefined;
    const sorted = Float64Array.from(this.confirmLags.subarray(0, n)).sort();
    const at = (q: number) => Math.round(sorted[Math.min(n - 1, Math.floor(q * n))]! * 100) / 100;
    return { samples: n, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
  }

  /** Forgets slots whose kernel elements have certainly timed out, so the map stays as small as the live set. */
  private sweepSlots(now: number): void {
    this.reservationsSinceSweep = 0;
    for (const [slot, s] of this.kernelSlots) if (Math.max(s.mapUntil, s.pendingUntil) + PLAN_MARGIN_MS <= now) this.kernelSlots.delete(slot);
  }

  private async kernelOp(ops: ElementOp[]): Promise<void> {
    this.stats.kernelOps++;
    try {
      await this.channel!.run(ops);
    } catch (err) {
      this.stats.kernelOpFailures++;
      throw err;
    }
  }

  async stop(): Promise<void> {
    const queue = this.queue;
    const channel = this.channel;
    const events = this.events;
    this.queue = undefined;
    this.channel = undefined;
    this.events = undefined;
    if (queue) await queue.close();
    if (events) await events.stop();
    if (channel) await channel.close();
    await this.kernel.uninstall();
    this.log.info('data plane removed');
  }
}

const slotOf = (r: Reservation): string => `${r.address}/${r.key.protocol}/${r.key.port}`;

const CONFIRM_LAG_SAMPLES = 4096;
