/**
 * Reads a DNS query straight off the wire without building objects for sections a query never needs.
 * dns-packet's full decode costs about a third of our per-query budget (NOTES §3), and the hot path only needs
 * the header, the one question and the OPT record. Everything here is bounds-checked: a malformed packet
 * yields a verdict (drop or an error rcode), never an exception.
 */

/** Response codes; values above 15 are extended (RFC 6891): low 4 bits in the header, the rest in OPT. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16, BADCOOKIE: 23 } as const;
export const TYPE_OPT = 41;
export const OPTION_CLIENT_SUBNET = 8;
export const OPTION_COOKIE = 10;

/** An EDNS Client Subnet option as received (RFC 7871 §6), kept whole so it can be echoed (§7.2.1). */
export interface ClientSubnetOption {
  /** 1 = IPv4, 2 = IPv6. */
  family: number;
  sourcePrefix: number;
  scopePrefix: number;
  /** The significant address bytes exactly as sent: ceil(sourcePrefix / 8) of them. */
  address: Buffer;
}

/** A DNS COOKIE option (RFC 7873 §4): the client cookie, and the server cookie when the client has one. */
export interface CookieOption {
  client: Buffer; // 8 bytes
  server?: Buffer; // 8..32 bytes
}

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  /** EDNS Client Subnet (RFC 7871), IPv4 only, as a number; kept for binding reservations to a client subnet. */
  clientSubnet?: { address: number; sourcePrefix: number };
  /** The client subnet option of either family, raw, for echoing it in the answer. */
  ecs?: ClientSubnetOption;
  /** The first COOKIE option (RFC 7873); later ones are ignored. */
  cookie?: CookieOption;
}

/**
 * The one question of a query, read once off the wire, in the three forms its users need: the canonical name
 * to decide and key caches on, the lowercase wire form that cached templates hold, and the client's own
 * spelling to echo (0x20 case randomisation). Nothing downstream converts between them again.
 */
export class Question {
  /** Canonical name: lowercase, no trailing dot; labels with '.', '\\' or non-printable bytes escaped. */
  readonly name: string;
  /**
   * The name in wire form exactly as the client spelt it: a view of the packet, not a copy, and never
   * compressed (see readQuestionName). Written over the name in every answer sent to this client.
   */
  readonly spelling: Buffer;
  readonly type: number;
  readonly class: number;
  private lowered?: Buffer;

  constructor(name: string, spelling: Buffer, type: number, qclass: number) {
    this.name = name;
    this.spelling = spelling;
    this.type = type;
    this.class = qclass;
  }

  /** The wire form lowercased: what a template holds. Made on first need (a cache miss), not per query. */
  get wire(): Buffer {
    return (this.lowered ??= lowerWire(this.spelling));
  }
}

export interface Query {
  id: number;
  /** Raw header flags word of the query. */
  flags: number;
  opcode: number;
  /** Sits at offset 12 of the packet, up to 12 + question.spelling.length + 4. */
  question: Question;
  edns?: Edns;
}

export type ParseResult =
  | { kind: 'query'; query: Query }
  /** Not worth an answer: too short to hold an ID, or a response (answering responses invites loops). */
  | { kind: 'drop'; reason: string }
  /** Answer with this rcode; `query` is present when the question could be read and should be echoed. */
  | { kind: 'error'; id: number; flags: number; rcode: number; reason: string; query?: Query };

interface NameRead {
  name: string;
  end: number; // offset just after the name
}

/**
 * Reads the question name, which must not be compressed. RFC 1035 §4.1.4 lets a pointer stand for a suffix
 * that occurred earlier in the message, i.e. it must land on a label (or root) of a name read before it. The
 * question is the first name of a query: the only bytes before any pointer in it are the header and its own
 * labels. A pointer into the header or into a label's content is garbage; one onto a label start of the name
 * itself reads the same pointer again, a loop. So no pointer in a question is valid, and refusing them here
 * (FORMERR) is the whole rule; it also means nothing downstream ever has to decompress a name.
 * Returns undefined when malformed.
 */
function readQuestionName(buf: Buffer, start: number): NameRead | undefined {
  let offset = start;
  let name = '';
  for (;;) {
    if (offset >= buf.length) return undefined;
    const len = buf[offset];
    if (len === 0) break;
    if ((len & 0xc0) !== 0) return undefined; // a pointer (see above) or an obsolete extended label type
    if (offset + 1 + len > buf.length) return undefined;
    if (offset + 1 + len - start + 1 > 255) return undefined; // RFC 1035 §3.1: 255 octets, root included
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
  return { name, end: offset + 1 };
}

/** Lowercase copy of an uncompressed wire name. */
function lowerWire(wire: Buffer): Buffer {
  const out = Buffer.allocUnsafe(wire.length);
  // Length octets are at most 63, below 'A' (0x41), so lowering every byte in A-Z leaves them intact.
  for (let i = 0; i < wire.length; i++) {
    const c = wire[i];
    out[i] = c >= 0x41 && c <= 0x5a ? c + 32 : c;
  }
  return out;
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
    if (code === OPTION_CLIENT_SUBNET) {
      if (len < 4) return 'malformed client subnet option';
      const family = buf.readUInt16BE(o);
      const sourcePrefix = buf[o + 2];
      const addrBytes = len - 4;
      // RFC 7871 §6: the address holds exactly the prefix's octets, zero beyond the prefix; a server SHOULD
      // answer FORMERR otherwise. A prefix longer than the family's address is FORMERR too; other families are ignored.
      const bits = family === 1 ? 32 : family === 2 ? 128 : 0;
      if (bits > 0) {
        if (sourcePrefix > bits || addrBytes !== Math.ceil(sourcePrefix / 8)) return 'malformed client subnet option';
        if (sourcePrefix % 8 !== 0 && (buf[o + len - 1] & (0xff >> (sourcePrefix % 8))) !== 0) return 'client subnet address has bits beyond its prefix';
        edns.ecs = { family, sourcePrefix, scopePrefix: buf[o + 3], address: Buffer.from(buf.subarray(o + 4, o + len)) };
      }
      if (family === 1) {
        let address = 0;
        for (let i = 0; i < 4; i++) address = (address << 8) | (i < addrBytes ? buf[o + 4 + i] : 0);
        edns.clientSubnet = { address: address >>> 0, sourcePrefix };
      }
    } else if (code === OPTION_COOKIE) {
      // RFC 7873 §5.2.2: a client cookie alone (8) or with a server cookie of 8..32 bytes; any other length is FORMERR.
      if (len !== 8 && (len < 16 || len > 40)) return 'malformed COOKIE option';
      if (!edns.cookie) {
        edns.cookie = { client: Buffer.from(buf.subarray(o, o + 8)) };
        if (len > 8) edns.cookie.server = Buffer.from(buf.subarray(o + 8, o + len));
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
  const qn = readQuestionName(buf, 12);
  if (!qn || qn.end + 4 > buf.length) return { kind: 'error', id, flags, rcode: RCODE.FORMERR, reason: 'malformed question' };
  const question = new Question(qn.name, buf.subarray(12, qn.end), buf.readUInt16BE(qn.end), buf.readUInt16BE(qn.end + 2));
  const query: Query = { id, flags, opcode, question };
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
