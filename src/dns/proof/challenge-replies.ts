/**
 * The small replies sent to requesters whose address is not proven yet: TC=1 (come back over TCP), BADCOOKIE
 * (come back with this server cookie) and the CNAME challenge (ask for this one-time alias). Each is built
 * straight from the query: header, the question in the client's spelling, at most one compressed CNAME, and
 * the OPT record when the query had one. They carry no address, so a spoofed query spends nothing but this
 * reply, and the caller keeps every such reply within 1.5 times the query's size (no reflector).
 */
import type { Query } from '../wire/parse-query.js';
import { clientQname, minimalReply } from '../wire/encode-response.js';

const HEADER = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
/** Bits copied from the query: opcode, RD, CD. */
const ECHO_MASK = 0x7800 | 0x0100 | 0x0010;
const TYPE_CNAME = 5;
const TYPE_OPT = 41;
const OPTION_COOKIE = 10;
export const RCODE_BADCOOKIE = 23;

/** Largest reply an unproven requester may get for a query of `querySize` bytes. */
export const maxUnprovenReply = (querySize: number): number => Math.floor(querySize * 1.5);

export interface ChallengeOptions {
  /** Our EDNS UDP payload size, advertised in OPT. */
  udpPayloadSize: number;
  /** COOKIE option payload (client cookie || server cookie) to include when the query had EDNS. */
  cookie?: Buffer;
}

function optLength(query: Query, opts: ChallengeOptions): number {
  if (!query.edns) return 0;
  return 11 + (opts.cookie ? 4 + opts.cookie.length : 0);
}

function writeOpt(buf: Buffer, at: number, query: Query, opts: ChallengeOptions, rcode: number): number {
  if (!query.edns) return at;
  buf[at] = 0;
  buf.writeUInt16BE(TYPE_OPT, at + 1);
  buf.writeUInt16BE(opts.udpPayloadSize, at + 3);
  buf[at + 5] = rcode >> 4;
  buf[at + 6] = 0;
  buf.writeUInt16BE(query.edns.dnssecOk ? 0x8000 : 0, at + 7);
  const rdlen = opts.cookie ? 4 + opts.cookie.length : 0;
  buf.writeUInt16BE(rdlen, at + 9);
  at += 11;
  if (opts.cookie) {
    buf.writeUInt16BE(OPTION_COOKIE, at);
    buf.writeUInt16BE(opts.cookie.length, at + 2);
    opts.cookie.copy(buf, at + 4);
    at += 4 + opts.cookie.length;
  }
  return at;
}

function header(buf: Buffer, query: Query, flags: number, rcode: number, answers: number): void {
  buf.writeUInt16BE(query.id, 0);
  buf.writeUInt16BE(FLAG_QR | (query.flags & ECHO_MASK) | flags | (rcode & 0xf), 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt16BE(answers, 6);
  buf.writeUInt16BE(0, 8);
  buf.writeUInt16BE(query.edns ? 1 : 0, 10);
}

/** TC=1 with the question only: every resolver retries over TCP, which proves its address. */
export function truncatedReply(query: Query, _packet: Buffer, opts: ChallengeOptions): Buffer {
  return minimalReply(query, { udpPayloadSize: opts.udpPayloadSize, truncated: true }, { cookie: opts.cookie });
}

/** RFC 7873 §5.2.3: BADCOOKIE with a fresh server cookie; a cookie-aware client retries with it. */
export function badCookieReply(query: Query, _packet: Buffer, opts: ChallengeOptions & { cookie: Buffer }): Buffer {
  return minimalReply(query, { udpPayloadSize: opts.udpPayloadSize, rcode: RCODE_BADCOOKIE, truncated: false }, { cookie: opts.cookie });
}

/**
 * The owner name of the CNAME points at the question; the alias's zone, when it is a suffix of the question
 * name, points into it too, so the record costs 12 bytes plus the alias label.
 */
export function cnameChallengeReply(query: Query, packet: Buffer, aliasLabel: string, aliasZone: string, opts: ChallengeOptions): Buffer {
  const name = clientQname(query);
  const pointer = suffixOffset(name, aliasZone);
  const zoneWire = pointer === undefined ? encodeName(aliasZone) : undefined;
  const rdlength = 1 + aliasLabel.length + (zoneWire ? zoneWire.length : 2);
  const buf = Buffer.alloc(HEADER + name.length + 4 + 12 + rdlength + optLength(query, opts));
  header(buf, query, FLAG_AA, 0, 1);
  name.copy(buf, HEADER);
  let at = HEADER + name.length;
  buf.writeUInt16BE(query.qtype, at);
  buf.writeUInt16BE(query.qclass, at + 2);
  at += 4;
  buf.writeUInt16BE(0xc000 | HEADER, at);
  buf.writeUInt16BE(TYPE_CNAME, at + 2);
  buf.writeUInt16BE(1, at + 4);
  buf.writeUInt32BE(0, at + 6);
  buf.writeUInt16BE(rdlength, at + 10);
  at += 12;
  buf[at] = aliasLabel.length;
  buf.write(aliasLabel, at + 1, 'latin1');
  at += 1 + aliasLabel.length;
  if (zoneWire) {
    zoneWire.copy(buf, at);
    at += zoneWire.length;
  } else {
    buf.writeUInt16BE(0xc000 | (HEADER + pointer!), at);
    at += 2;
  }
  writeOpt(buf, at, query, opts, 0);
  return buf;
}

/** Offset within `wire` (an uncompressed name) where the labels of `zone` (canonical) begin, if they end it. */
function suffixOffset(wire: Buffer, zone: string): number | undefined {
  const starts: number[] = [];
  for (let o = 0; wire[o] !== 0 && o < wire.length; o += wire[o]! + 1) starts.push(o);
  const zoneWire = encodeName(zone);
  for (const s of starts) {
    const tail = wire.subarray(s);
    if (tail.length === zoneWire.length && tail.toString('latin1').toLowerCase() === zoneWire.toString('latin1')) return s;
  }
  return undefined;
}

function encodeName(name: string): Buffer {
  const labels = name === '' ? [] : name.split('.');
  const out = Buffer.alloc(labels.reduce((n, l) => n + l.length + 1, 1));
  let o = 0;
  for (const l of labels) {
    out[o] = l.length;
    out.write(l, o + 1, 'latin1');
    o += l.length + 1;
  }
  return out;
}
