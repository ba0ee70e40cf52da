/**
 * nfqueue mode: the kernel queues each new flow's first packet (and a TCP connection's handshake-completing
 * packet) to userspace; the pool decides and the verdict's mark selects the DNAT target (verdict.ts).
 * Nothing needs preparing per reservation, so there is no `reserve`.
 */
import type { Confirmation, ConfirmationDeps, ConfirmLag } from './confirmation.js';
import { compareQueue, type Drift } from './kernel-verify.js';
import { HANDSHAKE_CHECK_MARK_OFFSET, HANDSHAKE_OK_MARK_OFFSET, type DataplaneModel } from './model.js';
import { NfQueue } from './nfqueue.js';
import { parseIpv4 } from './packet.js';
import { connectionKey, RecentConnections } from './recent-connections.js';
import { decideVerdict, type VerdictPolicy } from './verdict.js';
import { ourNetlinkPortIds, readQueueBindings } from './verify-read.js';

/** Consumed connections remembered (to ignore their later packets): at most this many, for this long. */
const CONSUMED_MEMORY_MAX = 65_536;
const CONSUMED_MEMORY_MS = 30_000;

export class NfqueueConfirmation implements Confirmation {
  private queue?: NfQueue;
  private policy: VerdictPolicy;
  /**
   * Connections whose handshake consumed their reservation: the ACK and the data right behind it are both
   * queued before the first verdict tags the connection; the later ones are the same handshake, not a second.
   */
  private readonly consumedConnections = new RecentConnections(CONSUMED_MEMORY_MS, CONSUMED_MEMORY_MAX);

  constructor(private readonly deps: ConfirmationDeps) {
    const { model } = deps;
    this.policy = policyOf(model);
  }

  /** A reload: the unmatched verdict and the hosts' marks (every remaining host keeps its own, reload/plan.ts). */
  modelChanged(model: DataplaneModel): void {
    this.deps.model = model;
    this.policy = policyOf(model);
  }

  async start(): Promise<void> {
    const { model, log } = this.deps;
    const options = { queueNum: model.queue.num, failOpen: false, onError: (err: Error) => log.warn({ err }, 'nfqueue') };
    const queue: NfQueue = NfQueue.open(options, (p) => this.onPacket(queue, p.id, p.payload, p.mark));
    this.queue = queue;
  }

  private onPacket(queue: NfQueue, id: number, payload: Buffer, mark: number): void {
    const { model, stats } = this.deps;
    let pkt = parseIpv4(payload);
    // conntrack reassembles before the queue; a fragment here has no ports and could match a port wildcard.
    if (pkt?.fragment) pkt = undefined;
    if (!pkt) stats.unparsable++;
    const queuedAs = mark === (model.markBase + HANDSHAKE_CHECK_MARK_OFFSET) >>> 0 ? 'handshake' : 'first';
    const headers = pkt && { src: pkt.src, dst: pkt.dst, protocol: pkt.protocol, dstPort: pkt.dstPort, tcpFlags: pkt.tcpFlags };
    const now = this.deps.now();
    const conn = queuedAs === 'handshake' && pkt ? connectionKey(pkt.src, pkt.srcPort, pkt.dst, pkt.dstPort) : undefined;
    if (conn !== undefined && this.consumedConnections.has(conn, now)) {
      queue.verdict(id, 'accept', (model.markBase + HANDSHAKE_OK_MARK_OFFSET) >>> 0);
      return;
    }
    const v = decideVerdict(this.deps.pool, this.policy, headers, now, queuedAs);
    if (conn !== undefined && v.kind === 'accept') this.consumedConnections.add(conn, now);
    if (v.kind === 'accept') {
      if (v.consumed) stats.confirmed++;
      else stats.synsForwarded++;
      queue.verdict(id, 'accept', v.mark);
    } else {
      stats.refused++;
      if (v.why === 'stolen') stats.stolenRefused++;
      if (v.why === 'handshake') stats.handshakeRefused++;
      if (v.kind === 'reject') queue.verdict(id, 'accept', v.mark);
      else queue.verdict(id, 'drop');
    }
  }

  /** Userspace counts every refusal itself: the kernel has nothing to add. */
  async refreshKernelCounters(): Promise<void> {}

  confirmLag(): ConfirmLag | undefined {
    return undefined;
  }

  /** The queue must be bound by our socket (a flush of the ruleset leaves bindings alone; a crash of ours does not). */
  async verify(): Promise<Drift[]> {
    if (!this.queue) return [];
    const [bindings, ours] = await Promise.all([readQueueBindings(), ourNetlinkPortIds()]);
    return compareQueue(this.deps.model.queue.num, bindings, ours);
  }

  /** Nothing of ours lives in the replaced table: verdicts and marks are per packet. */
  kernelReplaced(): void {}

  /** Binds the queue again when the binding was found gone (a packet queued meanwhile met the rule's default). */
  async resync(drift: readonly Drift[]): Promise<void> {
    if (!this.queue || !drift.some((d) => d.part === 'nfqueue')) return;
    const old = this.queue;
    this.queue = undefined;
    await old.close();
    await this.start();
    this.deps.log.info({ queue: this.deps.model.queue.num }, 'nfqueue bound again');
  }

  async stop(): Promise<void> {
    const queue = this.queue;
    this.queue = undefined;
    if (queue) await queue.close();
  }
}

function policyOf(model: DataplaneModel): VerdictPolicy {
  return { markBase: model.markBase, unmatched: model.unmatched, markIndex: new Map(model.hosts.map((h) => [h.id, h.markIndex])) };
}
