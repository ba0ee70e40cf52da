/**
 * Reads a DNS query straight off the wire without building objects for sections a query never needs.
 * dns-packet's full decode costs about a third of our per-query budget (NOTES §3), and the hot path only needs
 * the header, the one question and the OPT record. Everything here is bounds-checked: a malformed packet
 * yields a verdict (drop or an error rcode), never an exception.
 */

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export const TYPE_OPT = 41;

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  /** EDNS Client Subnet (RFC 7871), IPv4 only; kept for binding reservations to a client subnet later. */
  clientSubnet?: { address: number; sourcePrefix: number };
  /** RFC 7873 COOKIE option: the client cookie (8 bytes) and the server cookie it echoes (8..32), if any. */
  cookie?: { client: Buffer; server?: Buffer };
}

export interface Query {
  id: number;
  /** Raw header flags word of the query. */
  flags: number;
  opcode: number;
  /** Canonical question name: lowercase, no trailing dot; labels with '.', '\\' or non-printable bytes escaped. */
  qname: string;
  /** Where the question name sits in the packet; patched into cached responses to echo the client's case. */
  qnameStart: number;
  qnameEnd: number;
  /** True when the question name used a compression pointer (legal, rare): such queries bypass the cache. */
  qnameCompressed: boolean;
  qtype: number;
  qclass: number;
  edns?: Edns;
}

export type ParseResult =
  | { kind: 'query'; query: Query }
  /** Not worth an answer: too short to hold an ID, or a response (answering responses invites loops). */
  | { kind: 'drop'; reason: string }
  /** Answer with this rcode; `query` is present when the question could be read and should be echoed. */
  | { kind: 'error'; id: number; flags: number; rcode: number; reason: string; query?: Query };

const MAX_POINTER_HOPS = 16;

interface NameRead {
  name: string;
  end: number; // offset just after the name in the original stream
  compressed: boolean;
}

/** Reads a (possibly compressed) name; returns undefined when malformed. */
function readName(buf: Buffer, start: number): NameRead | undefined {
  let offset = start;
  let end = -1;
  let hops = 0;
  let wireLength = 1;
  let name = '';
  for (;;) {
    if (offset >= buf.length) return undefined;
    const len = buf[offset];
    if (len === 0) {
      if (end < 0) end = offset + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (offset + 1 >= buf.length || ++hops > MAX_POINTER_HOPS) return undefined;
      const target = ((len & 0x3f) << 8) | buf[offset + 1];
      if (end < 0) end = offset + 2;
      // Pointers must go backwards; anything else is either a loop or garbage.
      if (target >= offset) return undefined;
      offset = target;
      continue;
    }
    if (kind !== 0) return undefined; // extended label types are obsolete
    if (offset + 1 + len > buf.length) return undefined;
    wireLength += len + 1;
    if (wireLength > 255) return undefined;
    if (name.length > 0) name += '.';
    for (let i = offset + 1; i <= offset + len; i++) {
      const c = buf[i];
      if (c >= 0x41 && c <= 0x5a) name += String.fromCharCode(c + 32);
      else if (c === 0x2e || c === 0x5c) name += '\\' + String.fromCharCode(c);
      else if (c > 0x20 && c < 0x7f) name += String.fromCharCode(c);
      else name += '\\' + String(c).padStart(3, '0');
    }
    offset += len + 1;
  }
  return { name, end, compressed: hops > 0 };
}

/** Skips a name without decoding it. */
function skipName(buf: Buffer, start: number): number {
  let offset = start;
  for (;;) {
    if (offset >= buf.length) return -1;
    const len = buf[offset];
    if (len === 0) return offset + 1;
    if ((len & 0xc0) === 0xc0) return offset + 2 <= buf.length ? offset + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    offset += len + 1;
  }
}

function parseEdns(buf: Buffer, nameStart: number, rrStart: number, rdStart: number, rdLength: number): Edns | string {
  if (rrStart !== nameStart + 1 || buf[nameStart] !== 0) return 'OPT owner must be the root';
  const udpSize = buf.readUInt16BE(rrStart + 2);
  const version = buf[rrStart + 5];
  const dnssecOk = (buf[rrStart + 6] & 0x80) !== 0;
  const edns: Edns = { udpSize, version, dnssecOk };
  let o = rdStart;
  const end = rdStart + rdLength;
  while (o < end) {
    if (o + 4 > end) return 'truncated EDNS option';
    const code = buf.readUInt16BE(o);
    const len = buf.readUInt16BE(o + 2);
    o += 4;
    if (o + len > end) return 'EDNS option overruns OPT record';
    if (code === 8) {
      if (len < 4) return 'malformed client subnet option';
      const family = buf.readUInt16BE(o);
      const sourcePrefix = buf[o + 2];
      const addrBytes = len - 4;
      if (family === 1) {
        if (sourcePrefix > 32 || addrBytes > 4 || addrBytes !== Math.ceil(sourcePrefix / 8)) return 'malformed client subnet option';
        let address = 0;
        for (let i = 0; i < 4; i++) address = (address << 8) | (i < addrBytes ? buf[o + 4 + i] : 0);
        edns.clientSubnet = { address: address >>> 0, sourcePrefix };
      }
    }
    o += len;
  }
  return edns;
}

export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < 12) return { kind: 'drop', reason: 'shorter than a DNS header' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { kind: 'drop', reason: 'a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  if (qdcount !== 1) {
    return { kind: 'error', id, flags, rcode: opcode === 0 ? RCODE.FORMERR : RCODE.NOTIMP, reason: `${qdcount} questions` };
  }
  const qn = readName(buf, 12);
  if (!qn || qn.end + 4 > buf.length) return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: 'malformed question' };
  const query: Query = {
    id,
    flags,
    opcode,
    qname: qn.name,
    qnameStart: 12,
    qnameEnd: qn.end,
    qnameCompressed: qn.compressed,
    qtype: buf.readUInt16BE(qn.end),
    qclass: buf.readUInt16BE(qn.end + 2),
  };
  if (opcode !== 0) return { kind: 'error', id, flags, rcode: RCODE.NOTIMP, reason: `opcode ${opcode}`, query };

  let offset = qn.end + 4;
  const records = ancount + nscount + arcount;
  for (let i = 0; i < records; i++) {
    const nameStart = offset;
    offset = skipName(buf, offset);
    if (offset < 0 || offset + 10 > buf.length) {
      return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: 'truncated resource record', query };
    }
    const type = buf.readUInt16BE(offset);
    const rdLength = buf.readUInt16BE(offset + 8);
    const rdStart = offset + 10;
    if (rdStart + rdLength > buf.length) {
      return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: 'resource record overruns packet', query };
    }
    if (type === TYPE_OPT) {
      if (i < ancount + nscount) return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: 'OPT outside additional section', query };
      if (query.edns) return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: 'more than one OPT record', query };
      const edns = parseEdns(buf, nameStart, offset, rdStart, rdLength);
      if (typeof edns === 'string') return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: edns, query };
      query.edns = edns;
    }
    offset = rdStart + rdLength;
  }
  if (query.edns && query.edns.version > 0) {
    return { kind: 'error', id, flags, rcode: RCODE.BADVERS, reason: `EDNS version ${query.edns.version}`, query };
  }
  return { kind: 'query', query };
}
