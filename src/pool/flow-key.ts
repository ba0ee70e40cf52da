/**
 * Flow keys: the (protocol, port) half of a reservation key, with 0 meaning "any" in each field.
 * A packet key is what the data plane sees on a first packet: its IP protocol and destination port
 * (0 for protocols that carry no ports).
 */
import { PoolError } from './pool-error.js';

export interface FlowKey {
  protocol: number;
  port: number;
}

export interface PacketKey {
  protocol: number;
  port: number;
}

export const ANY = 0;

/** TCP, UDP, DCCP, SCTP and UDP-Lite: the protocols whose packets carry a destination port. */
export function protocolHasPorts(protocol: number): boolean {
  switch (protocol) {
    case 6:
    case 17:
    case 33:
    case 132:
    case 136:
      return true;
    default:
      return false;
  }
}

/**
 * Does `key` match the packet? A packet of a portless protocol has no port whatever its `port` field says,
 * so it never matches a key that names a port.
 */
export function keyMatches(key: FlowKey, pkt: PacketKey): boolean {
  if (key.protocol !== ANY && key.protocol !== pkt.protocol) return false;
  if (key.port === ANY) return true;
  return key.port === pkt.port && protocolHasPorts(pkt.protocol);
}

/**
 * Exact: true iff some real packet matches both keys. Protocols must agree (or one is "any"); if either key
 * names a port, the ports must agree and the packet must belong to a protocol that has ports and is allowed
 * by both keys. So {1,0} (ICMP) and {0,80} never overlap: no ICMP packet goes to port 80.
 */
export function keysCanOverlap(a: FlowKey, b: FlowKey): boolean {
  if (a.protocol !== ANY && b.protocol !== ANY && a.protocol !== b.protocol) return false;
  if (a.port === ANY && b.port === ANY) return true;
  if (a.port !== ANY && b.port !== ANY && a.port !== b.port) return false;
  const protocol = a.protocol !== ANY ? a.protocol : b.protocol;
  return protocol === ANY || protocolHasPorts(protocol);
}

/**
 * Match preference when several keys could match one packet: 0 exact, 1 port wildcard, 2 protocol wildcard,
 * 3 both. Read literally from which fields are 0, so {1,0} (ICMP, which has no port) ranks 1.
 */
export function matchRank(key: FlowKey): number {
  return (key.protocol === ANY ? 2 : 0) + (key.port === ANY ? 1 : 0);
}

/** What is wrong with a key as a reservation key, or undefined when it is valid. */
export function flowKeyProblem(key: FlowKey): string | undefined {
  if (typeof key !== 'object' || key === null) return 'key must be an object { protocol, port }';
  const { protocol, port } = key;
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
    return `protocol must be an integer 0..255 (0 = any), got ${String(protocol)}`;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return `port must be an integer 0..65535 (0 = any), got ${String(port)}`;
  }
  if (port !== ANY && protocol !== ANY && !protocolHasPorts(protocol)) {
    return `protocol ${protocol} has no ports, so port must be 0, got ${port}`;
  }
  return undefined;
}

export function assertFlowKey(key: FlowKey): void {
  const problem = flowKeyProblem(key);
  if (problem !== undefined) throw new PoolError(problem);
}

/** A single number naming a key (valid keys only): protocol * 65536 + port. */
export function flowKeyCode(key: FlowKey): number {
  return key.protocol * 65536 + key.port;
}
