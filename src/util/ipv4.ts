/** IPv4 addresses as unsigned 32-bit integers: compact for large pools and cheap to compare. */

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return DOTTED.test(text);
}

export function parseIpv4(text: string): number {
  if (!DOTTED.test(text)) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  const [a, b, c, d] = text.split('.').map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Expands "a.b.c.d", "a.b.c.d-e.f.g.h" or "a.b.c.d/len" into the list of addresses it names.
 * A CIDR block keeps every address, network and broadcast included: pool addresses are routed to the gateway,
 * not assigned on a shared segment, so none of them is special.
 */
export function expandIpv4Range(spec: string): number[] {
  const text = spec.trim();
  let first: number;
  let last: number;
  if (text.includes('/')) {
    const [addr, lenText] = text.split('/');
    const len = Number(lenText);
    if (!/^\d+$/.test(lenText) || len < 0 || len > 32) throw new Error(`bad prefix length in ${JSON.stringify(spec)}`);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    first = (parseIpv4(addr) & mask) >>> 0;
    last = (first | (~mask >>> 0)) >>> 0;
  } else if (text.includes('-')) {
    const [a, b] = text.split('-');
    first = parseIpv4(a.trim());
    last = parseIpv4(b.trim());
    if (last < first) throw new Error(`range ${JSON.stringify(spec)} ends before it starts`);
  } else {
    first = last = parseIpv4(text);
  }
  const count = last - first + 1;
  if (count > 1 << 20) throw new Error(`range ${JSON.stringify(spec)} holds ${count} addresses; at most ${1 << 20} are allowed`);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = first + i;
  return out;
}
