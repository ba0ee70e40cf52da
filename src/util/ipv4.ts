/** IPv4 addresses as unsigned 32-bit integers: compact for large pools and cheap to compare. */

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return DOTTED.test(text);
}

/** Parses a dotted quad; also on the per-query path (the client's address), so one pass, no allocation. */
export function parseIpv4(text: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return badIpv4(text);
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3 && !(digits > 0 && part === 0)) {
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) return badIpv4(text);
    } else return badIpv4(text);
  }
  if (dots !== 3 || digits === 0) return badIpv4(text);
  return n * 256 + part;
}

function badIpv4(text: string): never {
  throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
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
