// IPv4 header parsing for queued packets (pure; no allocation beyond the result object).
//
// Input is the start of an IP packet as NFQUEUE copies it (QueuedPacket.payload): possibly cut short by
// copyBytes, so the buffer may be shorter than the IP total length. The result is undefined for anything
// that is not a well-formed IPv4 header followed by the transport header this code needs: not version 4,
// IHL < 5, header or transport header cut off (by the buffer or by the IP total length), total length
// shorter than the header. Callers treat undefined as "cannot be matched" (reject/drop).

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, DCCP: 33, SCTP: 132, UDPLITE: 136 } as const;

export interface Ipv4Packet {
  /** addresses as unsigned 32-bit integers (see src/util/ipv4.ts formatIpv4) */
  src: number;
  dst: number;
  protocol: number;
  /** 0 for protocols without ports and for non-first fragments */
  srcPort: number;
  dstPort: number;
  /** ICMP only, first fragment */
  icmpType?: number;
  icmpCode?: number;
  /** TCP only, first fragment: the flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...) */
  tcpFlags?: number;
  /** IP header length in bytes (20..60; more than 20 when options are present) */
  headerLength: number;
  /** IP total length field */
  totalLength: number;
  ttl: number;
  /** set on every fragment (more-fragments flag or non-zero offset); ports are 0 unless it is the first */
  fragment?: true;
}

/** Bytes of transport header needed for the fields read from it. */
function transportNeed(protocol: number): number {
  switch (protocol) {
    case IPPROTO.TCP:
      return 20; // base header: ports and flags (a shorter one is malformed or a tiny-fragment trick)
    case IPPROTO.UDP:
    case IPPROTO.UDPLITE:
    case IPPROTO.ICMP:
      return 8;
    case IPPROTO.SCTP:
    case IPPROTO.DCCP:
      return 12; // common header / generic header
    default:
      return 0;
  }
}

/** Parses an IPv4 header and the ports (or ICMP type/code) behind it; undefined when malformed or cut off. */
export function parseIpv4(buf: Uint8Array): Ipv4Packet | undefined {
  if (buf.length < 20) return undefined;
  const b0 = buf[0]!;
  if (b0 >> 4 !== 4) return undefined;
  const headerLength = (b0 & 0x0f) * 4;
  if (headerLength < 20 || headerLength > buf.length) return undefined;
  const totalLength = (buf[2]! << 8) | buf[3]!;
  if (totalLength < headerLength) return undefined;
  const fragField = (buf[6]! << 8) | buf[7]!;
  const moreFragments = (fragField & 0x2000) !== 0;
  const fragOffset = fragField & 0x1fff;
  const protocol = buf[9]!;
  const pkt: Ipv4Packet = {
    src: ((buf[12]! << 24) | (buf[13]! << 16) | (buf[14]! << 8) | buf[15]!) >>> 0,
    dst: ((buf[16]! << 24) | (buf[17]! << 16) | (buf[18]! << 8) | buf[19]!) >>> 0,
    protocol,
    srcPort: 0,
    dstPort: 0,
    headerLength,
    totalLength,
    ttl: buf[8]!,
  };
  if (moreFragments || fragOffset !== 0) pkt.fragment = true;
  // A non-first fragment carries no transport header.
  if (fragOffset !== 0) return pkt;

  const need = transportNeed(protocol);
  if (need === 0) return pkt;
  const end = Math.min(buf.length, totalLength);
  const t = headerLength;
  if (end - t < need) return undefined;
  if (protocol === IPPROTO.ICMP) {
    pkt.icmpType = buf[t]!;
    pkt.icmpCode = buf[t + 1]!;
    return pkt;
  }
  pkt.srcPort = (buf[t]! << 8) | buf[t + 1]!;
  pkt.dstPort = (buf[t + 2]! << 8) | buf[t + 3]!;
  if (protocol === IPPROTO.TCP) pkt.tcpFlags = buf[t + 13]!;
  return pkt;
}
