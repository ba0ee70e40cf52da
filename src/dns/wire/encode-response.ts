import type dnsPacket from 'dns-packet';
import { nameCodec, recordCodec } from './codec.js';
import type { Query } from './parse-query.js';
import { OPTION_CLIENT_SUBNET, OPTION_COOKIE, TYPE_OPT } from './parse-query.js';
import { ADDRESS_SLOT, QUESTION_NAME, type AnswerRecord, type ResponseSpec } from './response-spec.js';
import { presentation } from '../names.js';

/**
 * An encoded response, independent of the query that caused it: ID, RD/CD bits, the client's spelling of the
 * question name and the reserved address are patched in per query by `instantiate`, so one template serves
 * every query for the same question.
 */
export interface ResponseTemplate {
  full: Buffer;
  /** The same answer cut down to header, question and OPT with TC set, built on first need. */
  truncated?: Buffer;
  /** Offsets at which the question's name is written (the question and the owners QUESTION_NAME stands for). */
  nameOffsets: number[];
  /** Offset of the address slot's 4 bytes, -1 when the spec has none. */
  addressOffset: number;
  /** End of the question section (header, name, type, class). */
  questionEnd: number;
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
const TYPE_A = 1;
const CLASS_IN = 1;
/** Type, class, TTL and RDLENGTH: what follows a record's owner. */
const RR_FIXED = 10;
const IPV4_LENGTH = 4;

export interface EncodeOptions {
  /** Our EDNS UDP payload size, advertised in OPT. */
  udpPayloadSize: number;
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

function asAnswer(rr: AnswerRecord, name: string): dnsPacket.Answer {
  return { name, type: rr.type, class: 'IN', ttl: rr.ttl, data: rr.data } as dnsPacket.Answer;
}

/** Writes the owner of the address slot; its other owners go through dns-packet with the rest of the record. */
function writeOwner(rr: AnswerRecord, buf: Buffer, offset: number, qwire: Buffer): number {
  if (rr.name === QUESTION_NAME) return offset + qwire.copy(buf, offset);
  nameCodec.encode(presentation(rr.name), buf, offset);
  return offset + nameCodec.encode.bytes;
}

/**
 * Owners that are the question are written from its wire form, not re-encoded from text: dns-packet does not
 * read our escapes (\046, \.), and the per-query spelling must overwrite exactly the bytes it replaces. The
 * address slot's RDATA is left zero (the buffer is zero-filled) for `instantiate` to fill.
 */
function writeRecords(records: AnswerRecord[], buf: Buffer, offset: number, qwire: Buffer, layout: Layout): number {
  for (const rr of records) {
    if (rr.name === QUESTION_NAME) layout.nameOffsets.push(offset);
    if (rr.data === ADDRESS_SLOT) {
      offset = writeOwner(rr, buf, offset, qwire);
      buf.writeUInt16BE(TYPE_A, offset);
      buf.writeUInt16BE(CLASS_IN, offset + 2);
      buf.writeUInt32BE(rr.ttl, offset + 4);
      buf.writeUInt16BE(IPV4_LENGTH, offset + 8);
      layout.addressOffset = offset + RR_FIXED;
      offset += RR_FIXED + IPV4_LENGTH;
    } else if (rr.name === QUESTION_NAME) {
      // Encode with the root as owner one byte before the name's end, then lay the name over it.
      recordCodec.encode(asAnswer(rr, '.'), buf, offset + qwire.length - 1);
      qwire.copy(buf, offset);
      offset += qwire.length - 1 + recordCodec.encode.bytes;
    } else {
      recordCodec.encode(asAnswer(rr, presentation(rr.name)), buf, offset);
      offset += recordCodec.encode.bytes;
    }
  }
  return offset;
}

function recordsLength(records: AnswerRecord[], qwire: Buffer): number {
  let n = 0;
  for (const rr of records) {
    if (rr.data === ADDRESS_SLOT) n += (rr.name === QUESTION_NAME ? qwire.length : nameCodec.encodingLength(presentation(rr.name))) + RR_FIXED + IPV4_LENGTH;
    else if (rr.name === QUESTION_NAME) n += qwire.length - 1 + recordCodec.encodingLength(asAnswer(rr, '.'));
    else n += recordCodec.encodingLength(asAnswer(rr, presentation(rr.name)));
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

/** Encodes `spec` as the answer to `query`'s question, noting where the per-query parts go. */
export function buildTemplate(query: Query, spec: ResponseSpec, opts: EncodeOptions): ResponseTemplate {
  const { question } = query;
  const qwire = question.wire;
  const hasEdns = query.edns !== undefined;
  const extendedRcode = spec.rcode >> 4;
  const size =
    HEADER + qwire.length + 4 + recordsLength(spec.answers, qwire) + recordsLength(spec.authorities, qwire) + recordsLength(spec.additionals, qwire) + (hasEdns ? OPT_LENGTH : 0);
  const buf = Buffer.alloc(size);
  writeHeader(buf, spec, [1, spec.answers.length, spec.authorities.length, spec.additionals.length + (hasEdns ? 1 : 0)], false);
  const layout: Layout = { nameOffsets: [HEADER], addressOffset: -1 };
  qwire.copy(buf, HEADER);
  let offset = HEADER + qwire.length;
  buf.writeUInt16BE(question.type, offset);
  buf.writeUInt16BE(question.class, offset + 2);
  offset += 4;
  const questionEnd = offset;
  offset = writeRecords(spec.answers, buf, offset, qwire, layout);
  offset = writeRecords(spec.authorities, buf, offset, qwire, layout);
  offset = writeRecords(spec.additionals, buf, offset, qwire, layout);
  if (hasEdns) writeOpt(buf, offset, opts.udpPayloadSize, extendedRcode, query.edns!.dnssecOk);
  return { full: buf, ...layout, questionEnd, spec, hasEdns, dnssecOk: query.edns?.dnssecOk ?? false, extendedRcode };
}

function truncatedOf(t: ResponseTemplate): Buffer {
  if (t.truncated) return t.truncated;
  const qEnd = t.questionEnd;
  const size = qEnd + (t.hasEdns ? OPT_LENGTH : 0);
  const buf = Buffer.alloc(size);
  t.full.copy(buf, 0, 0, qEnd);
  writeHeader(buf, t.spec, [1, 0, 0, t.hasEdns ? 1 : 0], true);
  if (t.hasEdns) writeOpt(buf, qEnd, t.full.readUInt16BE(t.full.length - OPT_LENGTH + 3), t.extendedRcode, t.dnssecOk);
  t.truncated = buf;
  return buf;
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
 * `limit` is the UDP size the client accepts (Infinity over TCP); the options count against it. `address`
 * fills the template's address slot; a truncated answer has none.
 */
export function instantiate(t: ResponseTemplate, query: Query, limit: number, address?: number, options?: PerQueryOptions): Buffer {
  const extra = t.hasEdns ? perQueryOptionsLength(options) : 0;
  const truncate = t.full.length + extra > limit;
  const src = truncate ? truncatedOf(t) : t.full;
  const out = Buffer.allocUnsafe(src.length + extra);
  src.copy(out);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE((out.readUInt16BE(2) & ~ECHO_MASK) | (query.flags & ECHO_MASK), 2);
  const name = query.question.spelling;
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
  const { question } = query;
  const qEnd = HEADER + question.spelling.length + 4;
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
  question.spelling.copy(out, HEADER);
  out.writeUInt16BE(question.type, qEnd - 4);
  out.writeUInt16BE(question.class, qEnd - 2);
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
