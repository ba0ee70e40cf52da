import { forwardProblems, type ForwardProblem, type OwnListener } from '../forwards/conflicts.js';
import type { GatewayConfigData } from './schema.js';

/** realmgw's own sockets on public and private addresses, as the forwards' conflict check needs them. */
export function ownListeners(data: GatewayConfigData): OwnListener[] {
  const out: OwnListener[] = [];
  const both = (address: string, port: number, what: string) => {
    out.push({ address, port, protocol: 'udp', what }, { address, port, protocol: 'tcp', what });
  };
  data.dns.wan.listen.forEach((l, i) => both(l.address, l.port, `DNS (dns.wan.listen[${i}])`));
  data.dns.lan?.listen.forEach((l, i) => both(l.address, l.port, `DNS (dns.lan.listen[${i}])`));
  if (data.stun) {
    const { listen, alternate } = data.stun;
    out.push({ address: listen.address, port: listen.port, protocol: 'udp', what: 'STUN (stun.listen)' });
    if (alternate) {
      // RFC 5780: the server answers from every combination of its two addresses and ports
      for (const address of [listen.address, alternate.address]) {
        for (const port of [listen.port, alternate.port ?? listen.port]) out.push({ address, port, protocol: 'udp', what: 'STUN (stun.alternate)' });
      }
    }
  }
  if (data.proxy) {
    if (data.proxy.http) out.push({ address: data.pool.serviceAddress, port: data.proxy.http, protocol: 'tcp', what: 'HTTP relay (proxy.http)' });
    if (data.proxy.tls) out.push({ address: data.pool.serviceAddress, port: data.proxy.tls, protocol: 'tcp', what: 'TLS relay (proxy.tls)' });
  }
  if (data.workers) out.push({ address: data.workers.api.listen.address, port: data.workers.api.listen.port, protocol: 'tcp', what: 'workers API (workers.api.listen)' });
  return out;
}

/** Problems of the `forwards:` section against the rest of the config (see src/forwards/conflicts.ts). */
export function forwardsProblems(data: GatewayConfigData, poolAddresses: ReadonlySet<number>): ForwardProblem[] {
  if (!data.forwards) return [];
  return forwardProblems(data.forwards, {
    serviceAddress: data.pool.serviceAddress,
    poolAddresses,
    hasDataplane: data.dataplane !== undefined,
    ...(data.workers ? { workers: { publicAddress: data.workers.publicAddress, first: data.workers.ports[0], last: data.workers.ports[1] } } : {}),
    listeners: ownListeners(data),
  });
}
