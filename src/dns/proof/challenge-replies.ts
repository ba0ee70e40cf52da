/**
 * The small replies sent to requesters whose address is not proven yet: TC=1 (come back over TCP), BADCOOKIE
 * (come back with this server cookie) and the CNAME challenge (ask for this one-time alias). Each is built
 * straight from the query: header, the question in the client's spelling, at most one compressed CNAME, and
 * the OPT record when the query had one. They carry no address, so a spoofed query spends nothing but this
 * reply, and the caller keeps every such reply within 1.5 times the query's size (no reflector).
 */
import type { Query } from '../wire/parse-query.js';
import { RCODE } from '../wire/parse-query.js';
import { minimalReply } from '../wire/encode-response.js';

const HEADER = 12;
const TYPE_CNAME = 5;
/** Owner (a pointer), type, class, TTL and RDLENGTH of the CNAME record. */
const CNAME_FIXED = 12;

/** Largest reply an unproven requester may get for a query of `querySize` bytes. */
export const maxUnprovenReply = (querySize: number): number => Math.floor(querySize * 1.5);

export interface ChallengeOptions {
  /** Our EDNS UDP payload size, advertised in OPT. */
  udpPayloadSize: number;
  /** COOKIE option payload (client cookie || server cookie) to include when the query had EDNS. */
  cookie?: Buffer;
}

/** TC=1 with the question only: every resolver retries over TCP, which proves its address. */
export function truncatedReply(query: Query, opts: ChallengeOptions): Buffer {
  return minimalReply(query, { udpPayloadSize: opts.udpPayloadSize, truncated: true }, { cookie: opts.cookie });
}

/** RFC 7873 §5.2.3: BADCOOKIE with a fresh server cookie; a cookie-aware client retries with it. */
export function badCookieReply(query: Query, opts: ChallengeOptions & { cookie: Buffer }): Buffer {
  return minimalReply(query, { udpPayloadSize: opts.udpPayloadSize, rcode: RCODE.BADCOOKIE, truncated: false }, { cookie: opts.cookie });
}

/** Where the alias's zone can point into the question, and the RDATA length that gives for `labelLength`. */
function aliasLayout(query: Query, labelLength: number, aliasZone: string): { pointer?: number; zoneWire?: Buffer; rdlength: number } {
  const pointer = suffixOffset(query.question.spelling, aliasZone);
  if (pointer !== undefined) return { pointer, rdlength: 1 + labelLength + 2 };
  const zoneWire = encodeName(aliasZone);
  return { zoneWire, rdlength: 1 + labelLength + zoneWire.length };
}

/** Size of the CNAME challenge for `query`, known before an alias is spent on it (labels have a fixed length). */
export function cnameChallengeSize(query: Query, labelLength: number, aliasZone: string, opts: ChallengeOptions): number {
  const cookie = query.edns && opts.cookie ? 4 + opts.cookie.length : 0;
  return HEADER + query.question.spelling.length + 4 + (query.edns ? 11 + cookie : 0) + CNAME_FIXED + aliasLayout(query, labelLength, aliasZone).rdlength;
}

/**
 * The minimal reply with one CNAME record spliced in after the question: its owner points at the question, and
 * the alias's zone, when it is a suffix of the question name, points into it too, so the record costs 15 bytes
 * plus the alias label.
 */
export function cnameChallengeReply(query: Query, aliasLabel: string, aliasZone: string, opts: ChallengeOptions): Buffer {
  const base = minimalReply(query, { udpPayloadSize: opts.udpPayloadSize, authoritative: true, truncated: false }, { cookie: opts.cookie });
  const { pointer, zoneWire, rdlength } = aliasLayout(query, aliasLabel.length, aliasZone);
  const rr = Buffer.alloc(CNAME_FIXED + rdlength);
  rr.writeUInt16BE(0xc000 | HEADER, 0);
  rr.writeUInt16BE(TYPE_CNAME, 2);
  rr.writeUInt16BE(1, 4); // class IN
  rr.writeUInt32BE(0, 6); // TTL 0: never cached, one use
  rr.writeUInt16BE(rdlength, 10);
  rr[CNAME_FIXED] = aliasLabel.length;
  rr.write(aliasLabel, CNAME_FIXED + 1, 'latin1');
  const tail = CNAME_FIXED + 1 + aliasLabel.length;
  if (zoneWire) zoneWire.copy(rr, tail);
  else rr.writeUInt16BE(0xc000 | (HEADER + pointer!), tail);
  const questionEnd = HEADER + query.question.spelling.length + 4;
  const out = Buffer.concat([base.subarray(0, questionEnd), rr, base.subarray(questionEnd)]);
  out.writeUInt16BE(1, 6); // ANCOUNT
  return out;
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
