/**
 * nftset mode: each reservation goes to the kernel as single-use nft set elements before its DNS answer
 * leaves (`reserve`); the kernel consumes it at the first packet (TCP: at the handshake, which tags the
 * connection), and the pool learns of it from conntrack events.
 */
import { parseNftCounters } from '../forwards/counters.js';
import type { Reservation } from '../pool/circular-pool.js';
import { CommandRunner } from './command.js';
import type { Confirmation, ConfirmationDeps, ConfirmLag } from './confirmation.js';
import type { Drift } from './kernel-verify.js';
import { ConntrackEvents, ConntrackStream, parseHandshakeEvent, type NewFlow } from './conntrack-events.js';
import { CT_TAG_CONSUMED, CT_TAG_MASK, CT_TAG_SHIFT } from './model.js';
import { ElementChannel, type ElementOp } from './nft-elements.js';
import { connectionKey, RecentConnections } from './recent-connections.js';
import { PLAN_MARGIN_MS, planOps, planReservation, slotDeleteOps, type SlotState } from './reservation-plan.js';
import { HANDSHAKE_COUNTER, STOLEN_COUNTER } from './ruleset.js';

const CONFIRM_LAG_SAMPLES = 4096;
/** Consumed connections remembered (to ignore their later events): at most this many, for this long. */
const CONSUMED_MEMORY_MAX = 65_536;
const CONSUMED_MEMORY_MS = 30_000;

const slotOf = (r: Reservation): string => `${r.address}/${r.key.protocol}/${r.key.port}`;

/** The element channel and both event readers, open together between start() and stop(). */
interface Open {
  channel: ElementChannel;
  events: ConntrackEvents;
  handshakes: ConntrackStream;
}

export class NftsetConfirmation implements Confirmation {
  private open?: Open;
  /** Guards against a repeated ESTABLISHED event of a connection whose handshake consumed its reservation. */
  private readonly consumedConnections = new RecentConnections(CONSUMED_MEMORY_MS, CONSUMED_MEMORY_MAX);
  /** Per (address, protocol, port), what the kernel holds for it (reservation-plan.ts). */
  private readonly kernelSlots = new Map<string, SlotState>();
  private reservationsSinceSweep = 0;
  /** Drift repair: when each slot was last planned (a count of plans), and the count at the last repair's install. */
  private planCount = 0;
  private readonly slotPlanned = new Map<string, number>();
  private replacedAt = 0;
  /** The last CONFIRM_LAG_SAMPLES times from reservation to its consumption reaching the pool. */
  private readonly confirmLags = new Float64Array(CONFIRM_LAG_SAMPLES);
  private confirmLagCount = 0;

  constructor(private readonly deps: ConfirmationDeps) {}

  async start(): Promise<void> {
    const { model, log } = this.deps;
    const channel = new ElementChannel({ table: model.table, log });
    const events = new ConntrackEvents((f) => this.onNewFlow(f), log);
    // TCP reservations are consumed by the handshake rule, which tags the connection: those UPDATE events only.
    // `--state ESTABLISHED` is filtered in the kernel (a socket filter), so the other five or so updates of
    // every TCP connection never reach userspace: without it, at 750 flows/s the events lagged (slot held
    // p99 21 ms) and the 3-address pool ran out.
    const consumed = `${(CT_TAG_CONSUMED << CT_TAG_SHIFT) >>> 0}/${CT_TAG_MASK}`;
    const handshakes = new ConntrackStream(['-e', 'UPDATES', '-p', 'tcp', '--state', 'ESTABLISHED', '--mark', consumed], (line) => this.onHandshakeEvent(line), log);
    try {
      await events.start();
      await handshakes.start();
    } catch (err) {
      await handshakes.stop();
      await events.stop();
      await channel.close();
      throw err;
    }
    this.open = { channel, events, handshakes };
  }

  /** A DNATed new flow to a pool address (not TCP) means the kernel consumed a reservation; so does the pool. */
  private onNewFlow(f: NewFlow): void {
    // TCP: the SYN was DNATed without consuming; its handshake consumes (onHandshakeEvent)
    if (f.protocol === 6 || f.replySrc === f.dst || !this.deps.pool.contains(f.dst)) return;
    this.consumed(this.deps.pool.consume({ dst: f.dst, protocol: f.protocol, port: f.dstPort, src: f.src }, this.deps.now()));
  }

  /** The kernel's handshake rule consumed a TCP reservation and tagged the connection. */
  private onHandshakeEvent(line: string): void {
    const e = parseHandshakeEvent(line);
    if (!e || e.state !== 'ESTABLISHED' || ((e.mark & CT_TAG_MASK) >>> CT_TAG_SHIFT) !== CT_TAG_CONSUMED || !this.deps.pool.contains(e.dst)) return;
    // The consuming ACK moves the connection to ESTABLISHED and sets the tag: one event. Every later event of
    // the connection carries the tag too, in later states (FIN_WAIT, ...); a short memory of consumed
    // connections guards against a repeated ESTABLISHED event (another ct mark change), shorter than the
    // client's TIME_WAIT so that a new connection with the same addresses and ports is never mistaken for it.
    const conn = connectionKey(e.src, e.srcPort, e.dst, e.dstPort);
    const now = this.deps.now();
    if (this.consumedConnections.has(conn, now)) return;
    this.consumedConnections.add(conn, now);
    this.consumed(this.deps.pool.consume({ dst: e.dst, protocol: 6, port: e.dstPort, src: e.src }, now));
  }

  private consumed(r: Reservation | undefined): void {
    if (!r) return;
    this.deps.stats.confirmed++;
    // how long the slot stayed taken: DNS answer, client, first packet, conntrack event (the pool's turnover)
    this.confirmLags[this.confirmLagCount++ % CONFIRM_LAG_SAMPLES] = this.deps.now() - r.createdAt;
    const slot = this.kernelSlots.get(slotOf(r));
    if (slot) slot.consumed = true;
    const loose = this.deps.pool.looseState(r.id);
    if (loose) this.rearm(r, loose.usedBy);
  }

  /**
   * A loose reservation (loose_packet) that admitted a flow and admits more: the kernel consumed its single-use
   * marker, so a new one goes in, bound to that flow's source (/32) for the rest of the lifetime; each flow it
   * admits re-arms it until the pool lets it go. A flow that starts before the new marker lands (the event's
   * and one transaction's latency after the previous one was consumed) is refused; nfqueue has no such gap.
   */
  private rearm(r: Reservation, source: number): void {
    const channel = this.open?.channel;
    const now = this.deps.now();
    if (!channel || r.expiresAt <= now) return;
    const slot = slotOf(r);
    const previous = this.kernelSlots.get(slot);
    const binding = { network: source, prefixLength: 32 };
    const plan = planReservation(previous, r.target, r.expiresAt - now, now, undefined, binding);
    this.kernelSlots.set(slot, plan.next);
    this.slotPlanned.set(slot, ++this.planCount);
    const el = { address: r.address, protocol: r.key.protocol, port: r.key.port };
    this.kernelOp(channel, planOps(plan, el, r.target, previous?.target, previous?.binding !== undefined)).catch(() => {
      this.kernelSlots.delete(slot);
      for (const ops of slotDeleteOps(el, [previous?.binding, binding])) void this.open?.channel.run(ops).catch(() => undefined);
    });
  }

  /**
   * Reads the kernel's `stolen` and `handshake` counters into stats. On demand (/stats), never on a timer:
   * `nft list` holds nf_tables' lock while it dumps, and every reservation's element batch waits for it
   * (measured: listing every 2 s made the flows bench's connect p99 35 ms instead of 2 ms).
   */
  async refreshKernelCounters(): Promise<void> {
    const r = await new CommandRunner().run('nft', ['-j', 'list', 'counters', 'table', 'ip', this.deps.model.table]);
    if (r.code !== 0) return;
    const counters = parseNftCounters(r.stdout);
    const { stats } = this.deps;
    stats.stolenRefused = counters.get(STOLEN_COUNTER)?.packets ?? stats.stolenRefused;
    stats.handshakeRefused = counters.get(HANDSHAKE_COUNTER)?.packets ?? stats.handshakeRefused;
  }

  /**
   * The kernel must hold the reservation before the DNS answer leaves. Whatever an earlier reservation of the
   * same slot left that would get in the way goes in the same transaction (reservation-plan.ts), so every
   * reservation costs one kernel transaction and releases cost none. After stop(): nothing to prepare.
   */
  readonly reserve = (r: Reservation): Promise<void> | undefined => {
    const channel = this.open?.channel;
    if (!channel) return undefined;
    const now = this.deps.now();
    const slot = slotOf(r);
    const previous = this.kernelSlots.get(slot);
    const plan = planReservation(previous, r.target, r.expiresAt - r.createdAt, now, undefined, r.source);
    this.kernelSlots.set(slot, plan.next);
    this.slotPlanned.set(slot, ++this.planCount);
    if (++this.reservationsSinceSweep >= 4096) this.sweepSlots(now);
    const el = { address: r.address, protocol: r.key.protocol, port: r.key.port };
    return this.kernelOp(channel, planOps(plan, el, r.target, previous?.target, previous?.binding !== undefined)).catch((err: unknown) => {
      // The transaction changed nothing, but the slot may hold something we did not expect: remove whatever
      // is there (each delete alone, its failure meaning there was nothing) and plan the next from scratch.
      this.kernelSlots.delete(slot);
      for (const ops of slotDeleteOps(el, [previous?.binding, r.source])) void this.open?.channel.run(ops).catch(() => undefined);
      throw err;
    });
  };

  confirmLag(): ConfirmLag | undefined {
    const n = Math.min(this.confirmLagCount, CONFIRM_LAG_SAMPLES);
    if (n === 0) return undefined;
    const sorted = Float64Array.from(this.confirmLags.subarray(0, n)).sort();
    const at = (q: number) => Math.round(sorted[Math.min(n - 1, Math.floor(q * n))]! * 100) / 100;
    return { samples: n, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
  }

  /** Forgets slots whose kernel elements have certainly timed out, so the map stays as small as the live set. */
  private sweepSlots(now: number): void {
    this.reservationsSinceSweep = 0;
    for (const [slot, s] of this.kernelSlots) {
      if (Math.max(s.mapUntil, s.pendingUntil, s.bindUntil ?? 0) + PLAN_MARGIN_MS > now) continue;
      this.kernelSlots.delete(slot);
      this.slotPlanned.delete(slot);
    }
  }

  /** The sets and maps of this mode live in the table: KernelState.verify covers them. */
  async verify(): Promise<Drift[]> {
    return [];
  }

  kernelReplaced(): void {
    this.replacedAt = this.planCount;
  }

  /**
   * After a repair replaced the table, the live reservations planned before it are gone from the kernel: each
   * goes in again as a fresh slot, for the rest of its lifetime (a loose one that admitted a flow bound to that
   * flow's source, as rearm does). Those planned since are in the new table already. One reservation the kernel
   * refuses is counted (kernelOpFailures) and left to expire; the others still go in.
   */
  async resync(): Promise<void> {
    const channel = this.open?.channel;
    if (!channel) return;
    const now = this.deps.now();
    // what the plans of those slots assumed the kernel holds went with the old table
    for (const [slot, planned] of this.slotPlanned) {
      if (planned > this.replacedAt) continue;
      this.kernelSlots.delete(slot);
      this.slotPlanned.delete(slot);
    }
    const runs: Promise<void>[] = [];
    for (const r of this.deps.pool.live()) {
      const slot = slotOf(r);
      if (r.expiresAt <= now || this.kernelSlots.has(slot)) continue;
      const loose = this.deps.pool.looseState(r.id);
      const binding = loose ? { network: loose.usedBy, prefixLength: 32 } : r.source;
      const plan = planReservation(undefined, r.target, r.expiresAt - now, now, undefined, binding);
      this.kernelSlots.set(slot, plan.next);
      this.slotPlanned.set(slot, ++this.planCount);
      const el = { address: r.address, protocol: r.key.protocol, port: r.key.port };
      runs.push(this.kernelOp(channel, planOps(plan, el, r.target, undefined, false)).catch((err: unknown) => {
        this.kernelSlots.delete(slot);
        this.deps.log.warn({ err, slot }, 'a live reservation could not be put back after drift repair');
      }));
    }
    await Promise.all(runs);
    if (runs.length) this.deps.log.info({ reservations: runs.length }, 'live reservations put back in the kernel');
  }

  private async kernelOp(channel: ElementChannel, ops: ElementOp[]): Promise<void> {
    const { stats } = this.deps;
    stats.kernelOps++;
    try {
      await channel.run(ops);
    } catch (err) {
      stats.kernelOpFailures++;
      throw err;
    }
  }

  async stop(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    if (!open) return;
    await open.events.stop();
    await open.handshakes.stop();
    await open.channel.close();
  }
}
