import { canonicalName } from './names.js';

/** The relay's spelling of a policy name (policies hold valid host names; anything else never matches). */
const spelling = (name: string): string => canonicalName(name) ?? `invalid:${name}`;
import type { UpstreamResolver, UpstreamTarget } from './connection.js';

/** A proxy_required name and the private host it leads to (from the policies). */
export interface ProxiedName {
  fqdn: string;
  hostId: string;
  /** The host's private address. */
  address: string;
}

/**
 * The relay's resolver (pure): exactly the proxy_required names of the policies, each to its host's private
 * address on the port the client reached; nothing else is ever a target. `proxyProtocol` lists names or host ids
 * whose upstream asked for a PROXY v2 header.
 */
export function proxyResolver(names: readonly ProxiedName[], proxyProtocol: readonly string[]): UpstreamResolver {
  const wantsHeader = new Set(proxyProtocol.map(spelling));
  const targets = new Map<string, UpstreamTarget>();
  for (const n of names) {
    const name = spelling(n.fqdn);
    const header = wantsHeader.has(name) || wantsHeader.has(spelling(n.hostId));
    targets.set(name, header ? { address: n.address, proxyProtocol: true } : { address: n.address });
  }
  return (name) => targets.get(name);
}

/** Entries of `proxyProtocol` that name neither a proxied name nor a host with one (for check). */
export function unknownProxyProtocolNames(names: readonly ProxiedName[], proxyProtocol: readonly string[]): string[] {
  const known = new Set(names.flatMap((n) => [spelling(n.fqdn), spelling(n.hostId)]));
  return proxyProtocol.filter((p) => !known.has(spelling(p)));
}
