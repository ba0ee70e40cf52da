import type dnsPacket from 'dns-packet';
import { nameCodec, recordCodec } from './codec.js';
import type { Query } from './parse-query.js';
import { TYPE_OPT } from './parse-query.js';

/** A resource record in dns-packet's shape, owner as a canonical name. */
export interface Record {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}

export interface ResponseSpec {
  rcode: number;
  authoritative: boolean;
  /** Recursion available: set on the LAN view, where we forward for the hosts. */
  recursionAvailable?: boolean;
  answers: Record[];
  authorities: Record[];
  additionals: Record[];
}

/**
 * An encoded response, independent of the query that caused it: ID, RD/CD bits and the case of the question
 * name are patched in per query by `instantiate`, so one template serves every query for the same question.
 */
export interface ResponseTemplate {
  full: Buffer;
  /** The same answer cut down to header, question and OPT with TC set, built on first need. */
  truncated?: Buffer;
  /** Offsets at which the question name is written (question and owner names), for case echo. */
  nameOffsets: number[];
  /** Offset of the first A record's RDATA (-1 if none), for allocated answers whose address changes per query. */
  addressOffset: number;
  spec: ResponseSpec;
  hasEdns: boolean;
  dnssecOk: boolean;
  /** Extended rcode bits (RFC 6891) for the OPT record, e.g. BADVERS. */
  extendedRcode: number;
}

const HEADER = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RA = 0x0080;
/** Bits copied from the query: opcode, RD, CD. */
const ECHO_MASK = 0x7800 | 0x0100 | 0x0010;

export interface EncodeOptions {
  /** Our EDNS UDP payload size, advertised in OPT. */
  udpPayloadSize: number;
}

/** Wire form of the question name in lowercase canonical spelling (case is patched in later). */
function canonicalQname(query: Query, packet: Buffer): Buffer {
  if (!query.qnameCompressed) {
    const raw = Buffer.from(packet.subarray(query.qnameStart, query.qnameEnd));
    // Length octets are at most 63, below 'A' (0x41), so lowering every byte in A-Z leaves them intact.
    for (let i = 0; i < raw.length; i++) if (raw[i] >= 0x41 && raw[i] <= 0x5a) raw[i] += 32;
    return raw;
  }
  const name = nameCodec.decode(packet, query.qnameStart).toLowerCase();
  return nameCodec.encode(name);
}

/** The question name exactly as the client spelt it, uncompressed. */
export function clientQname(query: Query, packet: Buffer): Buffer {
  if (!query.qnameCompressed) return packet.subarray(query.qnameStart, query.qnameEnd);
  return nameCodec.encode(nameCodec.decode(packet, query.qnameStart));
}

interface Layout {
  nameOffsets: number[];
  addressOffset: number;
}

function writeRecords(records: Record[], buf: Buffer, offset: number, qname: string, layout: Layout): number {
  for (const rr of records) {
    if (rr.name === qname) layout.nameOffsets.push(offset);
    recordCodec.encode({ name: rr.name === '' ? '.' : rr.name, type: rr.type, class: 'IN', ttl: rr.ttl, data: rr.data } as dnsPacket.Answer, buf, offset);
    offset += recordCodec.encode.bytes;
    // An A record ends with its 4-byte address: remember the first one so allocations can patch it.
    if (rr.type === 'A' && layout.addressOffset < 0) layout.addressOffset = offset - 4;
  }
  return offset;
}

function recordsLength(records: Record[]): number {
  let n = 0;
  for (const rr of records) {
    n += recordCodec.encodingLength({ name: rr.name === '' ? '.' : rr.name, type: rr.type, class: 'IN', ttl: rr.ttl, data: rr.data } as dnsPacket.Answer);
  }
  return n;
}

const OPT_LENGTH = 11; // root name, type, class, ttl, rdlength 0

function writeOpt(buf: Buffer, offset: number, udpSize: number, extendedRcode: number, dnssecOk: boolean): number {
  buf[offset] = 0;
  buf.writeUInt16BE(TYPE_OPT, offset + 1);
  buf.writeUInt16BE(udpSize, offset + 3);
  buf[offset + 5] = extendedRcode;
  buf[offset + 6] = 0; // version
  buf.writeUInt16BE(dnssecOk ? 0x8000 : 0, offset + 7); // RFC 3225: DO is copied from the query
  buf.writeUInt16BE(0, offset + 9);
  return offset + OPT_LENGTH;
}

function writeHeader(buf: Buffer, spec: ResponseSpec, counts: [number, number, number, number], truncated: boolean): void {
  let flags = FLAG_QR | (spec.rcode & 0xf);
  if (spec.authoritative) flags |= FLAG_AA;
  if (spec.recursionAvailable) flags |= FLAG_RA;
  if (truncated) flags |= FLAG_TC;
  buf.writeUInt16BE(0, 0);
  buf.writeUInt16BE(flags, 2);
  buf.writeUInt16BE(counts[0], 4);
  buf.writeUInt16BE(counts[1], 6);
  buf.writeUInt16BE(counts[2], 8);
  buf.writeUInt16BE(counts[3], 10);
}

/** Builds the template for `spec` answering `query`. */
export function buildTemplate(query: Query, packet: Buffer, spec: ResponseSpec, opts: EncodeOptions): ResponseTemplate {
  const qwire = canonicalQname(query, packet);
  const hasEdns = query.edns !== undefined;
  const extendedRcode = spec.rcode >> 4;
  const size =
    HEADER + qwire.length + 4 + recordsLength(spec.answers) + recordsLength(spec.authorities) + recordsLength(spec.additionals) + (hasEdns ? OPT_LENGTH : 0);
  const buf = Buffer.alloc(size);
  writeHeader(buf, spec, [1, spec.answers.length, spec.authorities.length, spec.additionals.length + (hasEdns ? 1 : 0)], false);
  const layout: Layout = { nameOffsets: [HEADER], addressOffset: -1 };
  qwire.copy(buf, HEADER);
  let offset = HEADER + qwire.length;
  buf.writeUInt16BE(query.qtype, offset);
  buf.writeUInt16BE(query.qclass, offset + 2);
  offset += 4;
  offset = writeRecords(spec.answers, buf, offset, query.qname, layout);
  offset = writeRecords(spec.authorities, buf, offset, query.qname, layout);
  offset = writeRecords(spec.additionals, buf, offset, query.qname, layout);
  if (hasEdns) writeOpt(buf, offset, opts.udpPayloadSize, extendedRcode, query.edns!.dnssecOk);
  return { full: buf, ...layout, spec, hasEdns, dnssecOk: query.edns?.dnssecOk ?? false, extendedRcode };
}

function truncatedOf(t: ResponseTemplate): Buffer {
  if (t.truncated) return t.truncated;
  const qEnd = t.nameOffsets.length > 0 ? questionEnd(t.full) : HEADER;
  const size = qEnd + (t.hasEdns ? OPT_LENGTH : 0);
  const buf = Buffer.alloc(size);
  t.full.copy(buf, 0, 0, qEnd);
  writeHeader(buf, t.spec, [1, 0, 0, t.hasEdns ? 1 : 0], true);
  if (t.hasEdns) writeOpt(buf, qEnd, t.full.readUInt16BE(t.full.length - OPT_LENGTH + 3), t.extendedRcode, t.dnssecOk);
  t.truncated = buf;
  return buf;
}

function questionEnd(buf: Buffer): number {
  let o = HEADER;
  while (buf[o] !== 0) o += buf[o] + 1;
  return o + 1 + 4;
}

/**
 * Produces the bytes to send for `query` from a template: a fresh buffer with the query's ID, echoed flag bits
 * and the client's spelling of the name. `limit` is the UDP size the client accepts (Infinity over TCP).
 */
export function instantiate(t: ResponseTemplate, query: Query, packet: Buffer, limit: number, address?: number): Buffer {
  const truncate = t.full.length > limit;
  const src = truncate ? truncatedOf(t) : t.full;
  const out = Buffer.allocUnsafe(src.length);
  src.copy(out);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE((out.readUInt16BE(2) & ~ECHO_MASK) | (query.flags & ECHO_MASK), 2);
  const name = clientQname(query, packet);
  if (truncate) name.copy(out, HEADER); // the truncated form keeps only the question
  else for (const at of t.nameOffsets) name.copy(out, at);
  if (address !== undefined && !truncate && t.addressOffset >= 0) out.writeUInt32BE(address >>> 0, t.addressOffset);
  return out;
}

/** Error reply for a packet whose question could not be read: header only, rcode set, ID echoed. */
export function headerOnlyError(id: number, queryFlags: number, rcode: number): Buffer {
  const buf = Buffer.alloc(HEADER);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(FLAG_QR | (queryFlags & ECHO_MASK) | (rcode & 0xf), 2);
  return buf;
}

/** Largest UDP response this client takes: 512 without EDNS, else its size within [512, ours]. */
export function udpLimit(query: Query | undefined, ours: number): number {
  if (!query?.edns) return 512;
  return Math.max(512, Math.min(query.edns.udpSize, ours));
}
