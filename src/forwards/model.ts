import { parseCidr, type Cidr } from '../util/cidr.js';
import { parseIpv4 } from '../util/ipv4.js';
import type { ForwardsSection } from './schema.js';

export type ForwardProtocol = 'tcp' | 'udp' | 'sctp';

/** IANA protocol numbers, as conntrack and the SRV owner name `_<port>._<proto>` spell them. */
export const PROTOCOL_NUMBER: Readonly<Record<ForwardProtocol, number>> = { tcp: 6, udp: 17, sctp: 132 };

/** One static forward, validated and with addresses as numbers (what the renderer and the checks use). */
export interface StaticForward {
  name: string;
  protocol: ForwardProtocol;
  /** Public side: the gateway's address and an inclusive port range (first === last for one port). */
  address: number;
  first: number;
  last: number;
  /** Private side: the host and the port `first` maps to (first + k -> toPort + k). */
  toAddress: number;
  toPort: number;
  /** fullnat: the connection also leaves toward the host with this source (the gateway's inner address). */
  snatTo?: number;
  /** Sources allowed to open connections; empty: everyone. */
  allowFrom: Cidr[];
  dns?: string;
}

/**
 * The section's rules as StaticForwards. Only for a section the checks passed (forwardProblems): a rule here
 * is assumed valid, and a fullnat rule finds innerAddress set.
 */
export function resolveForwards(section: ForwardsSection, serviceAddress: string): StaticForward[] {
  return section.rules.map((r) => {
    const [first, last] = typeof r.port === 'number' ? [r.port, r.port] : r.port;
    const cidrs = (r.allowFrom ?? []).map((c) => parseCidr(c)).filter((c): c is Cidr => !('error' in c));
    return {
      name: r.name,
      protocol: r.protocol,
      address: parseIpv4(r.address ?? serviceAddress),
      first,
      last,
      toAddress: parseIpv4(r.to.address),
      toPort: r.to.port,
      ...(r.mode === 'fullnat' && section.innerAddress !== undefined ? { snatTo: parseIpv4(section.innerAddress) } : {}),
      allowFrom: cidrs,
      ...(r.dns !== undefined ? { dns: r.dns } : {}),
    };
  });
}
