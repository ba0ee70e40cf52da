import { parseIpv4 } from '../util/ipv4.js';
import { ownListeners } from './forwards-check.js';
import type { GatewayConfigData } from './schema.js';

interface KeyProblem {
  path: (string | number)[];
  reason: string;
}

/**
 * The metrics listener must stay off the Internet: /metrics tells an attacker the pool's load and the defences'
 * state. Refused: every address the config makes public (the DNS WAN listeners, the service address, the pool,
 * the workers' public address, the STUN addresses, the forwards' public addresses), 0.0.0.0 (which includes
 * them), and a port one of realmgw's own TCP listeners already holds on that address.
 */
export function metricsProblems(data: GatewayConfigData, poolAddresses: ReadonlySet<number>): KeyProblem[] {
  const listen = data.metrics?.listen;
  if (!listen) return [];
  const at = ['metrics', 'listen', 'address'];
  if (listen.address === '0.0.0.0') return [{ path: at, reason: 'must be one address of the LAN or loopback: 0.0.0.0 includes the WAN addresses' }];
  const publicUse = publicAddresses(data).get(listen.address);
  if (publicUse) return [{ path: at, reason: `must not be a WAN address: ${listen.address} is ${publicUse}` }];
  if (poolAddresses.has(parseIpv4(listen.address))) return [{ path: at, reason: `must not be a WAN address: ${listen.address} is a pool address (pool.addresses)` }];
  const taken = ownListeners(data).find((l) => l.protocol === 'tcp' && l.port === listen.port && (l.address === listen.address || l.address === '0.0.0.0'));
  if (taken) return [{ path: ['metrics', 'listen', 'port'], reason: `${listen.address}:${listen.port} is already realmgw's ${taken.what}` }];
  return [];
}

/** Public addresses the config names, with the key that makes each one public. */
function publicAddresses(data: GatewayConfigData): Map<string, string> {
  const out = new Map<string, string>();
  const add = (address: string | undefined, what: string) => {
    if (address !== undefined && !out.has(address)) out.set(address, what);
  };
  data.dns.wan.listen.forEach((l, i) => add(l.address, `a WAN DNS listener (dns.wan.listen[${i}])`));
  add(data.pool.serviceAddress, 'the service address (pool.serviceAddress)');
  add(data.workers?.publicAddress, "the workers' public address (workers.publicAddress)");
  add(data.stun?.listen.address, 'the STUN address (stun.listen.address)');
  add(data.stun?.alternate?.address, 'the second STUN address (stun.alternate.address)');
  data.forwards?.rules.forEach((r, i) => add(r.address, `a forward's public address (forwards.rules[${i}].address)`));
  return out;
}
