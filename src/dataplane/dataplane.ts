import type { Logger } from '../log.js';
import type { CircularPool, Reservation } from '../pool/circular-pool.js';
import type { CompiledKernel } from '../compile/compiled-gateway.js';
import { CommandRunner } from './command.js';
import { ConntrackEvents, ConntrackStream, parseHandshakeEvent, type NewFlow } from './conntrack-events.js';
import { KernelState } from './kernel-state.js';
import { CT_TAG_CONSUMED, CT_TAG_MASK, CT_TAG_SHIFT, HANDSHAKE_CHECK_MARK_OFFSET, HANDSHAKE_OK_MARK_OFFSET, type DataplaneModel } from './model.js';
import { connectionKey, RecentConnections } from './recent-connections.js';
import { NfQueue } from './nfqueue.js';
import { ElementChannel, type ElementOp } from './nft-elements.js';
import { parseIpv4 } from './packet.js';
import { PLAN_MARGIN_MS, planOps, planReservation, slotDeleteOps, type SlotState } from './reservation-plan.js';
import { HANDSHAKE_COUNTER, STOLEN_COUNTER } from './ruleset.js';
import { decideVerdict, type VerdictPolicy } from './verdict.js';

export interface DataplaneStats {
  /** Reservations consumed: a first packet (not TCP), or a completed TCP handshake. */
  confirmed: number;
  /** Packets refused (nfqueue mode). */
  refused: number;
  unparsable: number;
  /**
   * First packets that matched a live reservation's (address, protocol, port) but came from outside the client
   * subnet it is bound to: refused, the reservation left for its client. nftset: the kernel's `stolen`
   * counter, read when /stats is asked (refreshKernelCounters).
   */
  stolenRefused: number;
  /**
   * TCP handshakes that completed after their reservation was gone (a concurrent handshake consumed it, or it
   * expired meanwhile): answered with a reset. nftset: the kernel's `handshake` counter (packets).
   */
  handshakeRefused: number;
  /** nfqueue mode: TCP SYNs DNATed to a pending reservation's host, which their handshake may then consume. */
  synsForwarded: number;
  kernelOps: number;
  kernelOpFailures: number;
}

/**
 * The kernel side of the gateway at run time: installs realmgw's kernel state, then confirms first packets
 * either in userspace (NFQUEUE: the pool decides and the verdict's mark selects the DNAT target) or by
 * handing each reservation to the kernel as a single-use nft set element (nftset). stop() closes the queue
 * (every queued packet has had its verdict: verdicts are given synchronously) and removes the kernel state.
 * Established flows never depend on realmgw: conntrack carries them across a crash or restart.
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
  readonly model: DataplaneModel;
  readonly stats: DataplaneStats = { confirmed: 0, refused: 0, unparsable: 0, stolenRefused: 0, handshakeRefused: 0, synsForwarded: 0, kernelOps: 0, kernelOpFailures: 0 };
  private readonly kernel: KernelState;
  private queue?: NfQueue;
  private channel?: ElementChannel;
  private events?: ConntrackEvents;
  private handshakes?: ConntrackStream;
  /**
   * Connections whose handshake consumed their reservation. nfqueue: the ACK and the data right behind it are
   * both queued before the first verdict tags the connection; the later ones are the same handshake, not a
   * second one. nftset: guards against a repeated ESTABLISHED event.
   */
  private readonly consumedConnections = new RecentConnections(CONSUMED_MEMORY_MS, CONSUMED_MEMORY_MAX);
  private readonly policy: VerdictPolicy;
  /** nftset mode: per (address, protocol, port), what the kernel holds for it (reservation-plan.ts). */
  private readonly kernelSlots = new Map<string, SlotState>();
  private reservationsSinceSweep = 0;
  /** nftset mode: the last CONFIRM_LAG_SAMPLES times from reservation to its consumption reaching the pool. */
  private readonly confirmLags = new Float64Array(CONFIRM_LAG_SAMPLES);
  private confirmLagCount = 0;

  constructor(
    compiled: CompiledKernel,
    private readonly pool: CircularPool,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    this.model = compiled.model;
    this.kernel = new KernelState(this.model, log, { ruleset: compiled.ruleset });
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
          (p) => this.onPacket(p.id, p.payload, p.mark),
        );
      } else {
        this.channel = new ElementChannel({ table: this.model.table, log: this.log });
        this.events = new ConntrackEvents((f) => this.onNewFlow(f), this.log);
        await this.events.start();
        // TCP reservations are consumed by the handshake rule, which tags the connection: those UPDATE events only.
        // `--state ESTABLISHED` is filtered in the kernel (a socket filter), so the other five or so updates of
        // every TCP connection never reach userspace: without it, at 750 flows/s the events lagged (slot held
        // p99 21 ms) and the 3-address pool ran out.
        const consumed = `${(CT_TAG_CONSUMED << CT_TAG_SHIFT) >>> 0}/${CT_TAG_MASK}`;
        this.handshakes = new ConntrackStream(['-e', 'UPDATES', '-p', 'tcp', '--state', 'ESTABLISHED', '--mark', consumed], (line) => this.onHandshakeEvent(line), this.log);
        await this.handshakes.start();
      }
    } catch (err) {
      await this.handshakes?.stop();
      await this.events?.stop();
      await this.channel?.close();
      await this.kernel.uninstall().catch(() => undefined);
      throw err;
    }
    this.log.info({ confirm: this.model.confirm, queue: this.model.queue, unmatched: this.model.unmatched }, 'data plane installed');
  }

  private onPacket(id: number, payload: Buffer, mark: number): void {
    let pkt = parseIpv4(payload);
    // conntrack reassembles before the queue; a fragment here has no ports and could match a port wildcard.
    if (pkt?.fragment) pkt = undefined;
    if (!pkt) this.stats.unparsable++;
    const queuedAs = mark === (this.model.markBase + HANDSHAKE_CHECK_MARK_OFFSET) >>> 0 ? 'handshake' : 'first';
    const headers = pkt && { src: pkt.src, dst: pkt.dst, protocol: pkt.protocol, dstPort: pkt.dstPort, tcpFlags: pkt.tcpFlags };
    const now = this.now();
    const conn = queuedAs === 'handshake' && pkt ? connectionKey(pkt.src, pkt.srcPort, pkt.dst, pkt.dstPort) : undefined;
    if (conn !== undefined && this.consumedConnections.has(conn, now)) {
      this.queue!.verdict(id, 'accept', (this.model.markBase + HANDSHAKE_OK_MARK_OFFSET) >>> 0);
      return;
    }
    const v = decideVerdict(this.pool, this.policy, headers, now, queuedAs);
    if (conn !== undefined && v.kind === 'accept') this.consumedConnections.add(conn, now);
    if (v.kind === 'accept') {
      if (v.consumed) this.stats.confirmed++;
      else this.stats.synsForwarded++;
      this.queue!.verdict(id, 'accept', v.mark);
    } else {
      this.stats.refused++;
      if (v.why === 'stolen') this.stats.stolenRefused++;
      if (v.why === 'handshake') this.stats.handshakeRefused++;
      if (v.kind === 'reject') this.queue!.verdict(id, 'accept', v.mark);
      else this.queue!.verdict(id, 'drop');
    }
  }

  /** nftset mode: a DNATed new flow to a pool address (not TCP) means the kernel consumed a reservation; so does the pool. */
  private onNewFlow(f: NewFlow): void {
    // TCP: the SYN was DNATed without consuming; its handshake consumes (onHandshakeEvent)
    if (f.protocol === 6 || f.replySrc === f.dst || !this.pool.contains(f.dst)) return;
    this.consumed(this.pool.consume({ dst: f.dst, protocol: f.protocol, port: f.dstPort, src: f.src }, this.now()));
  }

  /** nftset mode: the kernel's handshake rule consumed a TCP reservation and tagged the connection. */
  private onHandshakeEvent(line: string): void {
    const e = parseHandshakeEvent(line);
    if (!e || e.state !== 'ESTABLISHED' || ((e.mark & CT_TAG_MASK) >>> CT_TAG_SHIFT) !== CT_TAG_CONSUMED || !this.pool.contains(e.dst)) return;
    // The consuming ACK moves the connection to ESTABLISHED and sets the tag: one event. Every later event of
    // the connection carries the tag too, in later states (FIN_WAIT, ...); a short memory of consumed
    // connections guards against a repeated ESTABLISHED event (another ct mark change), shorter than the
    // client's TIME_WAIT so that a new connection with the same addresses and ports is never mistaken for it.
    const conn = connectionKey(e.src, e.srcPort, e.dst, e.dstPort);
    const now = this.now();
    if (this.consumedConnections.has(conn, now)) return;
    this.consumedConnections.add(conn, now);
    this.consumed(this.pool.consume({ dst: e.dst, protocol: 6, port: e.dstPort, src: e.src }, now));
  }

  private consumed(r: Reservation | undefined): void {
    if (!r) return;
    this.stats.confirmed++;
    // how long the slot stayed taken: DNS answer, client, first packet, conntrack event (the pool's turnover)
    this.confirmLags[this.confirmLagCount++ % CONFIRM_LAG_SAMPLES] = this.now() - r.createdAt;
    const slot = this.kernelSlots.get(slotOf(r));
    if (slot) slot.consumed = true;
  }

  /**
   * nftset mode: reads the kernel's `stolen` and `handshake` counters into stats. On demand (/stats), never on a
   * timer: `nft list` holds nf_tables' lock while it dumps, and every reservation's element batch waits for it
   * (measured: listing every 2 s made the flows bench's connect p99 35 ms instead of 2 ms).
   */
  async refreshKernelCounters(): Promise<void> {
    if (this.model.confirm !== 'nftset') return;
    const r = await new CommandRunner().run('nft', ['-j', 'list', 'counters', 'table', 'ip', this.model.table]);
    if (r.code !== 0) return;
    const counters = new Map<string, number>();
    try {
      for (const item of (JSON.parse(r.stdout) as { nftables?: { counter?: { name?: string; packets?: number } }[] }).nftables ?? []) {
        if (item.counter?.name !== undefined && typeof item.counter.packets === 'number') counters.set(item.counter.name, item.counter.packets);
      }
    } catch {
      return;
    }
    this.stats.stolenRefused = counters.get(STOLEN_COUNTER) ?? this.stats.stolenRefused;
    this.stats.handshakeRefused = counters.get(HANDSHAKE_COUNTER) ?? this.stats.handshakeRefused;
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
    const plan = planReservation(previous, r.target, r.expiresAt - r.createdAt, now, undefined, r.source);
    this.kernelSlots.set(slot, plan.next);
    if (++this.reservationsSinceSweep >= 4096) this.sweepSlots(now);
    const el = { address: r.address, protocol: r.key.protocol, port: r.key.port };
    return this.kernelOp(planOps(plan, el, r.target, previous?.target, previous?.binding !== undefined)).catch((err: unknown) => {
      // The transaction changed nothing, but the slot may hold something we did not expect: remove whatever
      // is there (each delete alone, its failure meaning there was nothing) and plan the next from scratch.
      this.kernelSlots.delete(slot);
      for (const ops of slotDeleteOps(el, [previous?.binding, r.source])) void this.channel?.run(ops).catch(() => undefined);
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
    for (const [slot, s] of this.kernelSlots) if (Math.max(s.mapUntil, s.pendingUntil, s.bindUntil ?? 0) + PLAN_MARGIN_MS <= now) this.kernelSlots.delete(slot);
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
    const handshakes = this.handshakes;
    this.queue = undefined;
    this.channel = undefined;
    this.events = undefined;
    this.handshakes = undefined;
    if (queue) await queue.close();
    if (events) await events.stop();
    if (handshakes) await handshakes.stop();
    if (channel) await channel.close();
    await this.kernel.uninstall();
    this.log.info('data plane removed');
  }
}

const slotOf = (r: Reservation): string => `${r.address}/${r.key.protocol}/${r.key.port}`;

const CONFIRM_LAG_SAMPLES = 4096;
/** How often nftset mode reads the kernel's refusal counters into stats. */
/** Consumed connections remembered (to ignore their later events): at most this many, for this long. */
const CONSUMED_MEMORY_MAX = 65_536;
const CONSUMED_MEMORY_MS = 30_000;
