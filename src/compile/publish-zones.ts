/** Which of the served zones gets the names realmgw makes up at run time (workers', one-time aliases). */
import type { GatewayConfig } from '../config/load-config.js';
import type { View } from '../dns/authority/views.js';
import { canonicalName, isInZone } from '../dns/names.js';

const isForwardZone = (origin: string): boolean => !isInZone(origin, 'in-addr.arpa') && !isInZone(origin, 'ip6.arpa');

/** The zone workers' names go in (workers.zone, else pool.nameZone, else the first forward zone), if we serve it. */
export function workerZone(config: GatewayConfig, wan: View): string | undefined {
  const origins = wan.tree.origins();
  const wanted = config.workers?.zone ?? config.pool.nameZone;
  if (wanted !== undefined) {
    const z = canonicalName(wanted);
    return origins.includes(z) ? z : undefined;
  }
  return origins.find(isForwardZone);
}

/** Where the CNAME challenge's one-time aliases live (pbra.cname.zone, else pool.nameZone, else the first forward zone), if it is ours. */
export function aliasZone(config: GatewayConfig, wan: View): string | undefined {
  const wanted = config.pbra?.cname.zone ?? config.pool.nameZone;
  if (wanted === undefined) return wan.tree.origins().find(isForwardZone);
  const z = canonicalName(wanted);
  return wan.tree.lookup(z).kind === 'none' ? undefined : z;
}
