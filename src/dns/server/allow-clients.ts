import { isIpv4, parseIpv4 } from '../../util/ipv4.js';

/**
 * The client check the listeners run before the handler: the LAN view (recursion through our forwarder) must
 * answer only the realm's own hosts, or the gateway is an open resolver. Networks are IPv4 CIDR blocks (or
 * single addresses); an IPv4-mapped IPv6 source counts as its IPv4 address, any other IPv6 source is refused.
 */
export function allowFromNetworks(cidrs: readonly string[]): (address: string) => boolean {
  const nets = cidrs.map(parseNetwork);
  return (address: string) => {
    const text = address.startsWith('::ffff:') ? address.slice(7) : address;
    if (!isIpv4(text)) return false;
    const a = parseIpv4(text);
    for (const n of nets) if (((a & n.mask) >>> 0) === n.base) return true;
    return false;
  };
}

function parseNetwork(cidr: string): { base: number; mask: number } {
  const [addr, lenText = '32'] = cidr.split('/');
  const len = Number(lenText);
  if (!/^\d+$/.test(lenText) || len > 32) throw new Error(`bad prefix length in ${JSON.stringify(cidr)}`);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (parseIpv4(addr) & mask) >>> 0, mask };
}
