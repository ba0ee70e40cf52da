import { isIpv4, parseIpv4 } from '../../util/ipv4.js';
import { cidrContains, maskOf, type Cidr } from '../../util/cidr.js';

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
    return nets.some((n) => cidrContains(n, a));
  };
}

/** A block given with host bits set (192.168.0.1/24) stands for its network, as the kernel reads such routes. */
function parseNetwork(text: string): Cidr {
  const [addr, len = '32'] = text.split('/');
  const prefixLength = Number(len);
  if (!/^\d{1,2}$/.test(len) || prefixLength > 32) throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  return { network: (parseIpv4(addr) & maskOf(prefixLength)) >>> 0, prefixLength };
}
