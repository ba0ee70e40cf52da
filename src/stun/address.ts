// Transport addresses in STUN address attributes (RFC 5389 §15.1, §15.2): family, port, IPv4 or IPv6 bytes,
// and the XOR form that keeps middleboxes from rewriting them.
import { isIPv4, isIPv6 } from 'node:net';

export type AddressFamily = 'IPv4' | 'IPv6';

export interface TransportAddress {
  family: AddressFamily;
  /** dotted quad, or IPv6 text in RFC 5952 form (as Node prints socket addresses) */
  address: string;
  port: number;
}

const FAMILY_CODE: Record<AddressFamily, number> = { IPv4: 0x01, IPv6: 0x02 };

/** 'a.b.c.d:port' or '[v6]:port', for logs and test records. */
export function formatEndpoint(a: { address: string; port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function sameEndpoint(a: { address: string; port: number }, b: { address: string; port: number }): boolean {
  return a.address === b.address && a.port === b.port;
}

/** A TransportAddress from an address string; the family follows the text. */
export function transportAddress(address: string, port: number): TransportAddress {
  return { family: isIPv6(address) ? 'IPv6' : 'IPv4', address, port };
}

/** Address bytes of an IPv4 or IPv6 literal; undefined for anything else. */
export function ipToBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  let text = ip.replace(/%.*$/, ''); // a link-local scope (fe80::1%eth0) is not part of the address
  if (!isIPv6(text)) return undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // embedded IPv4 in the last 32 bits (::ffff:1.2.3.4): rewrite it as two hex groups
    const [a, b, c, d] = text.slice(lastColon + 1).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups = rest === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Text form of 4 or 16 address bytes (IPv6 compressed per RFC 5952: longest run of two or more zero groups). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/**
 * Value of an address attribute. `xorKey` (cookie + transaction id, 16 bytes) gives the XOR form: the port
 * is XORed with the cookie's top 16 bits and the address with the cookie (IPv4) or cookie + id (IPv6).
 * Throws a TypeError for a value that is not an IP literal (a programming error, never wire input).
 */
export function encodeAddressValue(a: TransportAddress, xorKey?: Uint8Array): Buffer {
  const ip = ipToBytes(a.address);
  if (!ip || !Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) {
    throw new TypeError(`STUN address attribute: invalid address ${formatEndpoint(a)}`);
  }
  const out = Buffer.alloc(4 + ip.length);
  out[1] = FAMILY_CODE[ip.length === 4 ? 'IPv4' : 'IPv6'];
  out.writeUInt16BE(xorKey ? a.port ^ ((xorKey[0]! << 8) | xorKey[1]!) : a.port, 2);
  for (let i = 0; i < ip.length; i++) out[4 + i] = xorKey ? ip[i]! ^ xorKey[i]! : ip[i]!;
  return out;
}

/** Inverse of encodeAddressValue; undefined when the value is malformed (length, family). */
export function decodeAddressValue(v: Uint8Array, xorKey?: Uint8Array): TransportAddress | undefined {
  if (v.length < 4) return undefined;
  const family = v[1] === 0x01 ? 'IPv4' : v[1] === 0x02 ? 'IPv6' : undefined;
  const len = family === 'IPv4' ? 4 : 16;
  if (!family || v.length !== 4 + len) return undefined;
  let port = (v[2]! << 8) | v[3]!;
  const ip = Buffer.alloc(len);
  for (let i = 0; i < len; i++) ip[i] = xorKey ? v[4 + i]! ^ xorKey[i]! : v[4 + i]!;
  if (xorKey) port ^= (xorKey[0]! << 8) | xorKey[1]!;
  return { family, address: bytesToIp(ip), port };
}
