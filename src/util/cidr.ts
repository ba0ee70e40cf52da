/** IPv4 CIDR blocks, strictly: host bits set in a block are an error. */
import { formatIpv4, isIpv4, parseIpv4 } from './ipv4.js';

export interface Cidr {
  network: number;
  prefixLength: number;
}

export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** "a.b.c.d" (a /32) or "a.b.c.d/len"; a reason when it is neither. */
export function parseCidr(text: string): Cidr | { error: string } {
  const [addr, len, ...rest] = text.split('/');
  if (rest.length > 0 || !isIpv4(addr)) return { error: `${JSON.stringify(text)} is not an IPv4 address or CIDR block` };
  if (len === undefined) return { network: parseIpv4(addr), prefixLength: 32 };
  const prefixLength = Number(len);
  if (!/^\d{1,2}$/.test(len) || prefixLength > 32) return { error: `${JSON.stringify(text)}: the prefix length must be 0..32` };
  const a = parseIpv4(addr);
  const network = (a & maskOf(prefixLength)) >>> 0;
  if (network !== a) return { error: `${JSON.stringify(text)} has host bits set; did you mean ${formatIpv4(network)}/${prefixLength}?` };
  return { network, prefixLength };
}

export function formatCidr(c: Cidr): string {
  return c.prefixLength === 32 ? formatIpv4(c.network) : `${formatIpv4(c.network)}/${c.prefixLength}`;
}

export function cidrContains(c: Cidr, address: number): boolean {
  return ((address & maskOf(c.prefixLength)) >>> 0) === c.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  const longer = shorter === a ? b : a;
  return cidrContains(shorter, longer.network);
}
