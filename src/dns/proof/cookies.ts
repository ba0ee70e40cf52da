/**
 * DNS server cookies (RFC 7873) in the interoperable format of RFC 9018, so a client's proof of its address
 * survives a query over UDP: only a client that received our answer at its address can echo the server cookie
 * we sent there. Pure: the clock (seconds) and the secrets are passed in; no state per client.
 *
 *   server cookie = Version(1) = 1 | Reserved(3) = 0 | Timestamp(4, seconds, serial) | Hash(8)
 *   Hash          = SipHash-2-4(key = secret, Client Cookie | Version | Reserved | Timestamp | Client IP)
 *
 * Validity (RFC 9018 §4.3): a cookie is valid for one hour after its timestamp and up to 5 minutes "in the
 * future" (clock skew between servers that share the secret); a cookie older than half an hour is replaced
 * by a fresh one in the answer. Two secrets are tried (current, previous) so a rotation invalidates nothing
 * younger than the rotation interval.
 */
import SipHash from 'siphash';

const siphash = SipHash.hash;

export const CLIENT_COOKIE_LENGTH = 8;
export const SERVER_COOKIE_LENGTH = 16;
const VERSION = 1;
const MAX_AGE_S = 3600;
const MAX_FUTURE_S = 300;
const REFRESH_AFTER_S = 1800;

export type CookieCheck =
  /** The server cookie is ours, for this client cookie and address, and fresh enough. */
  | { kind: 'valid'; refresh: boolean }
  /** No server cookie at all: a client's first query, or a client that never echoes. */
  | { kind: 'client-only' }
  /** A server cookie that is not ours, not for this client, or too old/new. */
  | { kind: 'invalid' };

/** A 16-byte secret as the four little-endian words the siphash package takes. */
export function secretKey(secret: Buffer): Uint32Array {
  if (secret.length !== 16) throw new Error(`a cookie secret is 16 bytes, got ${secret.length}`);
  return Uint32Array.of(secret.readUInt32LE(0), secret.readUInt32LE(4), secret.readUInt32LE(8), secret.readUInt32LE(12));
}

const input = Buffer.alloc(CLIENT_COOKIE_LENGTH + 8 + 16);

function mac(key: Uint32Array, client: Buffer, timestamp: number, clientIp: Buffer): Buffer {
  client.copy(input, 0, 0, CLIENT_COOKIE_LENGTH);
  input.writeUInt32BE((VERSION << 24) >>> 0, 8);
  input.writeUInt32BE(timestamp >>> 0, 12);
  clientIp.copy(input, 16);
  const h = siphash(key, input.subarray(0, 16 + clientIp.length));
  // SipHash's 64-bit result is serialised little-endian (RFC 9018 appendix A vectors).
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32LE(h.l >>> 0, 0);
  out.writeUInt32LE(h.h >>> 0, 4);
  return out;
}

/** A fresh server cookie for `client` (8 bytes) at `clientIp` (4 or 16 bytes), stamped `nowS`. */
export function makeServerCookie(key: Uint32Array, client: Buffer, clientIp: Buffer, nowS: number): Buffer {
  const out = Buffer.alloc(SERVER_COOKIE_LENGTH);
  out[0] = VERSION;
  out.writeUInt32BE(nowS >>> 0, 4);
  mac(key, client, nowS, clientIp).copy(out, 8);
  return out;
}

/** Serial-number distance a - b of two 32-bit second counters (RFC 1982), so the wrap in 2106 is harmless. */
function serialDiff(a: number, b: number): number {
  return ((a - b) | 0);
}

/** Checks the server cookie of a query against each key (current first). */
export function checkServerCookie(keys: readonly Uint32Array[], client: Buffer, server: Buffer | undefined, clientIp: Buffer, nowS: number): CookieCheck {
  if (!server) return { kind: 'client-only' };
  if (server.length !== SERVER_COOKIE_LENGTH || server[0] !== VERSION) return { kind: 'invalid' };
  const stamp = server.readUInt32BE(4);
  const age = serialDiff(nowS >>> 0, stamp);
  if (age > MAX_AGE_S || age < -MAX_FUTURE_S) return { kind: 'invalid' };
  const got = server.subarray(8, 16);
  for (const key of keys) {
    if (mac(key, client, stamp, clientIp).equals(got)) return { kind: 'valid', refresh: age > REFRESH_AFTER_S };
  }
  return { kind: 'invalid' };
}

/** The COOKIE option payload of an answer: the client cookie echoed, then our server cookie. */
export function cookieOption(client: Buffer, server: Buffer): Buffer {
  return Buffer.concat([client.subarray(0, CLIENT_COOKIE_LENGTH), server]);
}
