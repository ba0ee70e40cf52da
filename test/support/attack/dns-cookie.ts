/**
 * The client side of DNS cookies (RFC 7873), as a cookie-aware stub does it: an 8-byte client cookie per
 * server, and the server cookie of the last answer echoed back in every later query. Pure: packets in and
 * out are dns-packet objects; no sockets.
 */
import type dnsPacket from 'dns-packet';

export const COOKIE_OPTION = 10;
/** Extended RCODE 23: the server wants its fresh cookie back (RFC 7873 §5.2.3). */
export const BADCOOKIE = 23;

type Opt = { code: number | string; data?: Buffer; type?: string };

/** OPT option data: client cookie, then the server cookie when one is known. */
export function cookieOptionData(client: Buffer, server?: Buffer): Buffer {
  if (client.length !== 8) throw new Error(`client cookie must be 8 bytes, not ${client.length}`);
  return server ? Buffer.concat([client, server]) : client;
}

/** A query's additional section: EDNS0 (1232 bytes) with a COOKIE option. */
export function ednsWithCookie(client: Buffer, server?: Buffer): dnsPacket.Answer[] {
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [{ code: COOKIE_OPTION, data: cookieOptionData(client, server) }] };
  return [opt as unknown as dnsPacket.Answer];
}

function optOf(p: dnsPacket.Packet): { extendedRcode: number; options: Opt[] } | undefined {
  return p.additionals?.find((a) => a.type === 'OPT') as { extendedRcode: number; options: Opt[] } | undefined;
}

/**
 * The server cookie an answer carries for our client cookie, or undefined (no cookie, a malformed one, or one
 * answering another client's cookie: a forged answer must not teach us a cookie).
 */
export function serverCookieOf(p: dnsPacket.Packet, client: Buffer): Buffer | undefined {
  const opt = optOf(p);
  const c = opt?.options?.find((o) => o.code === COOKIE_OPTION || o.code === 'COOKIE' || o.type === 'COOKIE');
  const data = c?.data;
  if (!data || data.length < 16 || data.length > 40) return undefined;
  if (!data.subarray(0, 8).equals(client)) return undefined;
  return Buffer.from(data.subarray(8));
}

/** The full 12-bit RCODE: the header's 4 bits plus the OPT record's extended bits. */
export function fullRcode(p: dnsPacket.Packet): number {
  const low = (p.flags ?? 0) & 0xf;
  return ((optOf(p)?.extendedRcode ?? 0) << 4) | low;
}
