/** From validated config and policies to the DataplaneModel every kernel-state renderer works from. */
import type { GatewayConfig } from '../config/load-config.js';
import type { PolicySet } from '../policy/index.js';
import { formatIpv4, parseIpv4 } from '../util/ipv4.js';
import { HANDSHAKE_OK_MARK_OFFSET, type DataplaneHost, type DataplaneModel } from '../dataplane/model.js';

/** The nft table realmgw owns. */
export const DEFAULT_TABLE = 'realmgw';
/** Prefix of realmgw's iptables chains (RGW-...) and, lowercased, of its ipsets (rgw-...). */
export const DEFAULT_PREFIX = 'RGW';

/**
 * Hosts get mark indexes 1..n in order of their sorted ids (stable across restarts while the host list is
 * unchanged); groups collect every address of every host that lists them, sorted.
 * Throws when the config has no `dataplane` section (DNS only: there is nothing to install).
 */
export function buildDataplaneModel(inputs: { config: GatewayConfig; policies: PolicySet }): DataplaneModel {
  const { config, policies } = inputs;
  const dp = config.dataplane;
  if (!dp) throw new Error(`${config.file}: no 'dataplane' section; realmgw runs DNS only and installs nothing in the kernel`);
  const ids = [...policies.hosts.keys()].sort();
  if (ids.length >= HANDSHAKE_OK_MARK_OFFSET) throw new Error(`${ids.length} hosts: at most ${HANDSHAKE_OK_MARK_OFFSET - 1} fit in the mark space`);
  const hosts: DataplaneHost[] = ids.map((id, i) => {
    const h = policies.hosts.get(id)!;
    return { id, ipv4: h.ipv4, markIndex: i + 1, groups: [...h.groups], firewall: { admin: h.firewall.admin, user: h.firewall.user } };
  });
  const members = new Map<string, Set<number>>();
  for (const id of ids) {
    const h = policies.hosts.get(id)!;
    for (const g of h.groups) {
      let set = members.get(g);
      if (!set) members.set(g, (set = new Set()));
      for (const a of h.ipv4s.length ? h.ipv4s : [h.ipv4]) set.add(parseIpv4(a));
    }
  }
  const groups = new Map<string, string[]>();
  for (const g of [...members.keys()].sort()) groups.set(g, [...members.get(g)!].sort((a, b) => a - b).map(formatIpv4));
  return {
    table: DEFAULT_TABLE,
    prefix: DEFAULT_PREFIX,
    confirm: dp.confirm,
    queue: { num: dp.queue.num, bypass: dp.queue.bypass },
    unmatched: dp.unmatched,
    wanInterface: dp.wan.interface,
    lanInterface: dp.lan.interface,
    lanNetwork: networkOf(dp.lan.network),
    serviceAddress: config.pool.serviceAddress,
    poolAddresses: config.poolAddresses.map(formatIpv4),
    markBase: dp.markBase,
    hosts,
    groups,
    ...(config.forwards.length ? { forwards: config.forwards } : {}),
  };
}

/** "192.168.0.1/24" -> "192.168.0.0/24" (nft wants the network address). */
function networkOf(cidr: string): string {
  const [addr, lenText] = cidr.split('/');
  const len = Number(lenText);
  if (!(len >= 0 && len <= 32)) throw new Error(`dataplane.lan.network: bad prefix length in '${cidr}'`);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return `${formatIpv4((parseIpv4(addr) & mask) >>> 0)}/${len}`;
}
