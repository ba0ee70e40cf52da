import type { CircularPool, Reservation } from '../pool/circular-pool.js';
import { HANDSHAKE_OK_MARK_OFFSET, REJECT_MARK_OFFSET } from './model.js';

export interface PacketHeaders {
  src: number;
  dst: number;
  protocol: number;
  dstPort: number;
  /** TCP: the flags byte (SYN 0x02, RST 0x04, ACK 0x10); absent when unknown. */
  tcpFlags?: number;
}

/** How a packet came to the queue. */
export type QueuedAs =
  /** the first packet of a new flow */
  | 'first'
  /** the handshake-completing ACK of a TCP connection DNATed earlier (iptables marked it so) */
  | 'handshake';

/** Why a packet was refused, for the data plane's counters. */
export type Refusal =
  /** no live reservation for its key */
  | 'unmatched'
  /** a live reservation for its key is bound to another client subnet (it stays pending) */
  | 'stolen'
  /** a TCP handshake completed but its reservation is gone: a concurrent handshake consumed it, or it expired */
  | 'handshake'
  /** a new TCP flow that does not start with a SYN cannot complete a handshake to consume anything */
  | 'not-syn'
  | 'unparsable'
  /** the reservation's host left the policy while it was pending */
  | 'no-host';

export type Verdict =
  /**
   * Accept with this mark: a first packet's mark DNATs it to the reservation's host (nat prerouting); a
   * handshake's mark tags its connection consumed (filter forward). `consumed` says whether the pool consumed
   * the reservation now (not for a TCP SYN: its handshake will).
   */
  | { kind: 'accept'; mark: number; reservation: Reservation; consumed: boolean }
  /** Accept with the reject mark: the filter chain answers with a TCP reset / ICMP unreachable. */
  | { kind: 'reject'; mark: number; why: Refusal }
  | { kind: 'drop'; why: Refusal };

export interface VerdictPolicy {
  markBase: number;
  unmatched: 'reject' | 'drop';
  /** Mark index of each host id (markBase + index selects the DNAT target). */
  markIndex: ReadonlyMap<string, number>;
}

const TCP = 6;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/**
 * Decides the fate of a queued packet.
 *
 * First packets: UDP, ICMP and every protocol without a handshake consume the best matching reservation
 * (exact, port wildcard, protocol wildcard, both; a bound one only from its client subnet) and are DNATed to
 * its host. A TCP SYN is DNATed to the reservation's host WITHOUT consuming it: a SYN proves nothing about its
 * source, so a spoofed one must not use up the real client's reservation. Its connection's handshake ACK is
 * queued again ('handshake') and consumes it: a client that received the host's SYN-ACK owns the address it
 * sent from. Consuming is what makes a reservation single-use: a second flow without a new DNS query is
 * refused (a second TCP connection racing the first through its handshake is refused at its ACK).
 */
export function decideVerdict(pool: CircularPool, policy: VerdictPolicy, pkt: PacketHeaders | undefined, now: number, queuedAs: QueuedAs = 'first'): Verdict {
  const refuse = (why: Refusal): Verdict =>
    policy.unmatched === 'reject' ? { kind: 'reject', mark: policy.markBase + REJECT_MARK_OFFSET, why } : { kind: 'drop', why };
  if (!pkt) return refuse('unparsable');
  const key = { dst: pkt.dst, protocol: pkt.protocol, port: pkt.dstPort, src: pkt.src };
  const unmatched = (): Verdict => refuse(pool.findBoundElsewhere(key, now) ? 'stolen' : 'unmatched');
  if (queuedAs === 'handshake') {
    const reservation = pkt.protocol === TCP ? pool.consume(key, now) : undefined;
    if (!reservation) return refuse('handshake');
    return { kind: 'accept', mark: policy.markBase + HANDSHAKE_OK_MARK_OFFSET, reservation, consumed: true };
  }
  const tcp = pkt.protocol === TCP;
  if (tcp && ((pkt.tcpFlags ?? 0) & (SYN | RST | ACK)) !== SYN) return refuse('not-syn');
  const reservation = tcp ? pool.find(key, now) : pool.consume(key, now);
  if (!reservation) return unmatched();
  const index = policy.markIndex.get(reservation.hostId);
  // A host removed from policy while its reservation was pending has no DNAT target any more.
  if (index === undefined) return refuse('no-host');
  return { kind: 'accept', mark: policy.markBase + index, reservation, consumed: !tcp };
}
