import type { CircularPool, Reservation } from '../pool/circular-pool.js';
import { REJECT_MARK_OFFSET } from './model.js';

export interface PacketHeaders {
  src: number;
  dst: number;
  protocol: number;
  dstPort: number;
}

export type Verdict =
  /** Accept with this mark: the nat prerouting chain DNATs marked packets to the reservation's host. */
  | { kind: 'accept'; mark: number; reservation: Reservation }
  /** Accept with the reject mark: the filter chain answers with a TCP reset / ICMP unreachable. */
  | { kind: 'reject'; mark: number }
  | { kind: 'drop' };

export interface VerdictPolicy {
  markBase: number;
  unmatched: 'reject' | 'drop';
  /** Mark index of each host id (markBase + index selects the DNAT target). */
  markIndex: ReadonlyMap<string, number>;
}

/**
 * Decides the fate of the first packet of a new inbound flow: consume the best matching reservation (exact,
 * port wildcard, protocol wildcard, both) and DNAT to its host, or refuse. Consuming is what makes a
 * reservation single-use, so a second flow to the same address without a new DNS query is refused.
 */
export function decideVerdict(pool: CircularPool, policy: VerdictPolicy, pkt: PacketHeaders | undefined, now: number): Verdict {
  const refuse = (): Verdict => (policy.unmatched === 'reject' ? { kind: 'reject', mark: policy.markBase + REJECT_MARK_OFFSET } : { kind: 'drop' });
  if (!pkt) return refuse();
  const reservation = pool.consume({ dst: pkt.dst, protocol: pkt.protocol, port: pkt.dstPort, src: pkt.src }, now);
  if (!reservation) return refuse();
  const index = policy.markIndex.get(reservation.hostId);
  // A host removed from policy while its reservation was pending has no DNAT target any more.
  if (index === undefined) return refuse();
  return { kind: 'accept', mark: policy.markBase + index, reservation };
}
