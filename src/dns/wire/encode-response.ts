import type dnsPacket from 'dns-packet';
import { recordCodec } from './codec.js';
import type { Query } from './parse-query.js';
import { OPTION_CLIENT_SUBNET, OPTION_COOKIE, TYPE_OPT } from './parse-query.js';

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

/** The question name exactly as the client spelt it, uncompressed (parse-query refuses compressed questions). */
export function clientQname(query: Query): Buffer {
  return query.qnameWire;
}

/**
 * EDNS options added to one answer after the cached template is copied: they differ per client, so they
 * never live in a template. Appended to the OPT record, which is the last record of everything we encode.
 */
export interface PerQueryOptions {
  /** COOKIE option data: client cookie (8 bytes) followed by our server cookie (8..32 bytes), 16..40 in all. */
  cookie?: Buffer;
  /** Client subnet to echo (RFC 7871 §7.2.1): the query's family, source prefix and address, our scope. */
  ecs?: { family: number; sourcePrefix: number; scopePrefix: number; address: Buffer };
}

interface Layout {
  nameOffsets: number[];
  addressOffset: number;
}

/** The question in wire form, for owners equal to it; its canonical text, to recognise them. */
interface Qname {
  text: string;
  wire: Buffer;
}

function asAnswer(rr: Record, name: string): dnsPacket.Answer {
  return { name, type: rr.type, class: 'IN', ttl: rr.ttl, data: rr.data } as dnsPacket.Answer;
}

/**
 * Owners equal to the question are written from its wire form, not re-encoded from text: dns-packet does not
 * read our escapes (\046, \.), and the per-query case patch must overwrite exactly the bytes it replaces.
 */
function writeRecords(records: Record[], buf: Buffer, offset: number, q: Qname, layout: Layout): number {
  for (const rr of records) {
    if (rr.name === q.text) {
      layout.nameOffsets.push(offset);
      // Encode with the root as owner one byte before the name's end, then lay the name over it.
      recordCodec.encode(asAnswer(rr, '.'), buf, offset + q.wire.length - 1);
      q.wire.copy(buf, offset);
      offset += q.wire.length - 1 + recordCodec.encode.bytes;
    } else {
      recordCodec.encode(asAnswer(rr, rr.name === '' ? '.' : rr.name), buf, offset);
      offset += recordCodec.encode.bytes;
    }
    // An A record ends with its 4-byte address: remember the first one so allocations can patch it.
    if (rr.type === 'A' && layout.addressOffset < 0) layout.addressOffset = offset - 4;
  }
  return offset;
}

function recordsLength(records: Record[], q: Qname): number {
  let n = 0;
  for (const rr of records) {
    n += rr.name === q.text ? q.wire.length - 1 + recordCodec.encodingLength(asAnswer(rr, '.')) : recordCodec.encodingLength(asAnswer(rr, rr.name === '' ? '.' : rr.name));
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

/**
 * Builds the template for `spec` answering `query`. `_packet` is no longer read (the question's wire forms
 * come parsed in `query`); it stays only so callers need not change in the same commit.
 */
export function buildTemplate(query: Query, _packet: Buffer, spec: ResponseSpec, opts: EncodeOptions): ResponseTemplate {
  const qwire = query.qnameWireLower;
  const hasEdns = query.edns !== undefined;
  const extendedRcode = spec.rcode >> 4;
  const q: Qname = { text: query.qname, wire: qwire };
  const size =
    HEADER + qwire.length + 4 + recordsLength(spec.answers, q) + recordsLength(spec.authorities, q) + recordsLength(spec.additionals, q) + (hasEdns ? OPT_LENGTH : 0);
  const buf = Buffer.alloc(size);
  writeHeader(buf, spec, [1, spec.answers.length, spec.authorities.length, spec.additionals.length + (hasEdns ? 1 : 0)], false);
  const layout: Layout = { nameOffsets: [HEADER], addressOffset: -1 };
  qwire.copy(buf, HEADER);
  let offset = HEADER + qwire.length;
  buf.writeUInt16BE(query.qtype, offset);
  buf.writeUInt16BE(query.qclass, offset + 2);
  offset += 4;
  offset = writeRecords(spec.answers, buf, offset, q, layout);
  offset = writeRecords(spec.authorities, buf, offset, q, layout);
  offset = writeRecords(spec.additionals, buf, offset, q, layout);
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

/** Bytes the per-query options add to the OPT record. */
export function perQueryOptionsLength(options: PerQueryOptions | undefined): number {
  if (!options) return 0;
  let n = 0;
  if (options.cookie) n += 4 + options.cookie.length;
  if (options.ecs) n += 4 + 4 + Math.ceil(options.ecs.sourcePrefix / 8);
  return n;
}

/**
 * Appends the per-query options at `end` (the end of the OPT record, which closes `out`) and grows the OPT's
 * RDLENGTH, which sits just before the OPT RDATA: at `optRdataStart - 2`.
 */
function appendOptions(out: Buffer, optRdataStart: number, end: number, options: PerQueryOptions): number {
  let o = end;
  if (options.cookie) {
    out.writeUInt16BE(OPTION_COOKIE, o);
    out.writeUInt16BE(options.cookie.length, o + 2);
    options.cookie.copy(out, o + 4);
    o += 4 + options.cookie.length;
  }
  if (options.ecs) {
    const e = options.ecs;
    const addrBytes = Math.ceil(e.sourcePrefix / 8);
    out.writeUInt16BE(OPTION_CLIENT_SUBNET, o);
    out.writeUInt16BE(4 + addrBytes, o + 2);
    out.writeUInt16BE(e.family, o + 4);
    out[o + 6] = e.sourcePrefix;
    out[o + 7] = e.scopePrefix;
    out.fill(0, o + 8, o + 8 + addrBytes);
    e.address.copy(out, o + 8, 0, Math.min(addrBytes, e.address.length));
    o += 8 + addrBytes;
  }
  out.writeUInt16BE(out.readUInt16BE(optRdataStart - 2) + (o - end), optRdataStart - 2);
  return o;
}

/**
 * Produces the bytes to send for `query` from a template: a fresh buffer with the query's ID, echoed flag bits,
 * the client's spelling of the name and, when the template has an OPT record, the per-query `options`.
 * `limit` is the UDP size the client accepts (Infinity over TCP); the options count against it. `_packet` is
 * unused, as in buildTemplate.
 */
export function instantiate(t: ResponseTemplate, query: Query, limit: number, address?: number, options?: PerQueryOptions): Buffer {
  const extra = t.hasEdns ? perQueryOptionsLength(options) : 0;
  const truncate = t.full.length + extra > limit;
  const src = truncate ? truncatedOf(t) : t.full;
  const out = Buffer.allocUnsafe(src.length + extra);
  src.copy(out);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE((out.readUInt16BE(2) & ~ECHO_MASK) | (query.flags & ECHO_MASK), 2);
  const name = clientQname(query);
  if (truncate) name.copy(out, HEADER); // the truncated form keeps only the question
  else for (const at of t.nameOffsets) name.copy(out, at);
  if (address !== undefined && !truncate && t.addressOffset >= 0) out.writeUInt32BE(address >>> 0, t.addressOffset);
  if (extra > 0) appendOptions(out, src.length, src.length, options!);
  return out;
}

export interface MinimalReplyOptions {
  /** Our EDNS UDP payload size, advertised in OPT. */
  udpPayloadSize: number;
  /** TC=1 (default): the client is to come back over TCP. */
  truncated?: boolean;
  rcode?: number;
  authoritative?: boolean;
  recursionAvailable?: boolean;
}

/**
 * The smallest answer that sends a client to TCP (RRL "slip", RFC 7766 §5): header with TC set, the question,
 * and an OPT record when the query had one, plus the per-query options. Never larger than the query plus
 * those options, since the query held the same header and question and at least an 11-byte OPT.
 */
export function minimalTruncated(query: Query, opts: MinimalReplyOptions, options?: PerQueryOptions): Buffer {
  return minimalReply(query, { ...opts, truncated: opts.truncated ?? true }, options);
}

/** Header, question and OPT only (with the per-query options): TC=1, or an error such as BADCOOKIE. */
export function minimalReply(query: Query, opts: MinimalReplyOptions, options?: PerQueryOptions): Buffer {
  const hasEdns = query.edns !== undefined;
  const qEnd = HEADER + query.qnameWire.length + 4;
  const extra = hasEdns ? perQueryOptionsLength(options) : 0;
  const out = Buffer.alloc(qEnd + (hasEdns ? OPT_LENGTH + extra : 0));
  const spec: ResponseSpec = {
    rcode: opts.rcode ?? 0,
    authoritative: opts.authoritative ?? false,
    recursionAvailable: opts.recursionAvailable,
    answers: [],
    authorities: [],
    additionals: [],
  };
  writeHeader(out, spec, [1, 0, 0, hasEdns ? 1 : 0], opts.truncated ?? false);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE(out.readUInt16BE(2) | (query.flags & ECHO_MASK), 2);
  query.qnameWire.copy(out, HEADER);
  out.writeUInt16BE(query.qtype, qEnd - 4);
  out.writeUInt16BE(query.qclass, qEnd - 2);
  if (hasEdns) {
    const end = writeOpt(out, qEnd, opts.udpPayloadSize, spec.rcode >> 4, query.edns!.dnssecOk);
    if (extra > 0) appendOptions(out, end, end, options!);
  }
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
