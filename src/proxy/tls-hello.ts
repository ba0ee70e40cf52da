// Just enough of TLS (RFC 8446 §4.1.2, §5.1; RFC 6066 §3) to route a connection by its server_name without
// terminating TLS: reassemble the ClientHello from handshake records (a record may arrive in pieces, the
// message may span records), then walk its extensions. Pure code: never an exception, whatever the bytes.
import { canonicalName } from './names.js';

export type HelloVerdict =
  /** come back when the client has sent `need` bytes in all: fewer cannot change the verdict */
  | { kind: 'incomplete'; need: number }
  /** `serverName` is undefined without an SNI host_name, or when it is not a host name (e.g. an IP literal). */
  | { kind: 'hello'; serverName: string | undefined; version: number }
  | { kind: 'malformed'; reason: string }
  /** the ClientHello would not fit in `maxBytes` of records */
  | { kind: 'too-large' };

const RECORD_HANDSHAKE = 22;
const RECORD_ALERT = 21;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
const MAX_RECORD = 16384;
const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;

/** Reads records from the start of `buf` (all bytes the client sent so far) until the ClientHello is whole. */
export function readClientHello(buf: Buffer, maxBytes: number): HelloVerdict {
  const fragments: Buffer[] = [];
  let collected = 0;
  let messageLength = -1;
  let off = 0;
  for (;;) {
    if (buf.length - off < RECORD_HEADER) return off + RECORD_HEADER > maxBytes ? { kind: 'too-large' } : { kind: 'incomplete', need: off + RECORD_HEADER };
    if (buf[off] !== RECORD_HANDSHAKE) return malformed('not a handshake record');
    if (buf[off + 1] !== 3) return malformed('not a TLS record version');
    const length = buf.readUInt16BE(off + 3);
    // RFC 8446 §5.1: no empty handshake fragments, no plaintext record over 2^14
    if (length === 0 || length > MAX_RECORD) return malformed('bad record length');
    if (off + RECORD_HEADER + length > maxBytes) return { kind: 'too-large' };
    if (buf.length < off + RECORD_HEADER + length) return { kind: 'incomplete', need: off + RECORD_HEADER + length };
    fragments.push(buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + length));
    collected += length;
    off += RECORD_HEADER + length;
    if (messageLength < 0 && collected >= HANDSHAKE_HEADER) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return malformed('first handshake message is not a ClientHello');
      messageLength = head.readUIntBE(1, 3);
    }
    if (messageLength >= 0 && collected >= HANDSHAKE_HEADER + messageLength) {
      const message = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, collected);
      return parseClientHelloBody(message.subarray(HANDSHAKE_HEADER, HANDSHAKE_HEADER + messageLength));
    }
  }
}

/** A cursor that reports overruns by returning -1 / undefined instead of throwing. */
class Reader {
  off = 0;
  constructor(private readonly buf: Buffer) {}
  get left(): number {
    return this.buf.length - this.off;
  }
  u8(): number {
    return this.left >= 1 ? this.buf[this.off++]! : -1;
  }
  u16(): number {
    if (this.left < 2) return -1;
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  bytes(n: number): Buffer | undefined {
    if (n < 0 || this.left < n) return undefined;
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
}

/** ClientHello body (after the 4-byte handshake header) -> its server_name. */
export function parseClientHelloBody(body: Buffer): HelloVerdict {
  const r = new Reader(body);
  const version = r.u16();
  if (version < 0 || r.bytes(32) === undefined) return malformed('truncated ClientHello');
  const sessionId = r.u8();
  if (sessionId < 0 || sessionId > 32 || r.bytes(sessionId) === undefined) return malformed('bad legacy_session_id');
  const suites = r.u16();
  if (suites < 2 || suites % 2 !== 0 || r.bytes(suites) === undefined) return malformed('bad cipher_suites');
  const compression = r.u8();
  if (compression < 1 || r.bytes(compression) === undefined) return malformed('bad legacy_compression_methods');
  // a ClientHello without extensions is legal (old clients) and carries no name
  if (r.left === 0) return { kind: 'hello', serverName: undefined, version };
  const extensionsLength = r.u16();
  if (extensionsLength !== r.left) return malformed('extensions length does not match the message');
  const seen = new Set<number>();
  let serverName: string | undefined;
  while (r.left > 0) {
    const type = r.u16();
    const data = r.bytes(r.u16());
    if (type < 0 || data === undefined) return malformed('truncated extension');
    if (seen.has(type)) return malformed('duplicate extension');
    seen.add(type);
    if (type !== EXT_SERVER_NAME) continue;
    const sni = parseServerName(data);
    if (typeof sni !== 'object') serverName = sni;
    else return sni;
  }
  return { kind: 'hello', serverName, version };
}

/** server_name extension data -> the host_name (canonical, or undefined when it is not a host name). */
function parseServerName(data: Buffer): string | undefined | HelloVerdict {
  const r = new Reader(data);
  if (r.u16() !== r.left || r.left === 0) return malformed('bad server_name list length');
  let host: Buffer | undefined;
  while (r.left > 0) {
    const type = r.u8();
    const name = r.bytes(r.u16());
    if (type < 0 || name === undefined) return malformed('truncated server_name entry');
    if (type !== NAME_TYPE_HOST) continue;
    // RFC 6066 §3: at most one name per type
    if (host !== undefined) return malformed('two host_name entries');
    if (name.length === 0) return malformed('empty host_name');
    host = name;
  }
  if (host === undefined) return undefined;
  // any byte outside printable ASCII makes it no host name; latin1 keeps one char per byte for that check
  return canonicalName(host.toString('latin1'));
}

function malformed(reason: string): HelloVerdict {
  return { kind: 'malformed', reason };
}

export const ALERT_UNRECOGNIZED_NAME = 112;

/**
 * A fatal alert record, sent in the clear since no keys exist yet. Its record version follows the client's
 * ClientHello.legacy_version, capped at TLS 1.2's 0x0303 (what TLS 1.3 puts on every record after the first).
 */
export function fatalAlert(description: number, clientVersion = 0x0303): Buffer {
  const version = Math.min(Math.max(clientVersion, 0x0301), 0x0303);
  return Buffer.from([RECORD_ALERT, version >> 8, version & 0xff, 0, 2, 2, description]);
}
