import { formatIpv4, parseIpv4 } from '../../util/ipv4.js';
import { canonicalName, isInZone, reverseName } from '../names.js';
import type { ServiceName, SubscriberHost } from '../../policy/index.js';
import { ZoneTree, type ZoneSource } from './zone-tree.js';
import type { DynamicNames } from './worker-names.js';

/** The parts of the policy model the views read (tests build them by hand). */
export type ServiceSource = Omit<ServiceName, 'hostId'>;
export type HostSource = Pick<SubscriberHost, 'id' | 'fqdns' | 'ipv4' | 'ipv4s' | 'circularPoolMax'> & { services: ServiceSource[] };

/** A service name as the WAN side serves it: policy plus the host it leads to. */
export interface ServiceEntry extends ServiceSource {
  hostId: string;
  /** Private address of the host, u32. */
  target: number;
  hostMax?: number;
  /** SRV target name `_<port>._<proto>.<fqdn>` for services with a fixed port; undefined otherwise. */
  srvName?: string;
}

export interface View {
  name: 'wan' | 'lan';
  tree: ZoneTree;
  /** Service names (and their SRV target aliases) that allocate; WAN only. */
  services: Map<string, ServiceEntry>;
  /** LAN: names outside our zones go to the forwarders. */
  forwards: boolean;
  serviceAddress: string;
  /** Names of registered workers, replaced whenever registrations change (worker-names.ts). */
  dynamic?: DynamicNames;
  /** WAN: service names' SRV/TXT answers in Realm Gateway's formats (config dns.wan.serviceFormats). */
  rgwFormats?: boolean;
}

/** A static forward's published name (config `forwards:` `dns:`): A to its public address, SRV per port. */
export interface PublishedForward {
  name: string;
  address: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  ports: number[];
}

export interface PoolNaming {
  serviceAddress: string;
  addresses: number[];
  /** Zone that gets pool-a-b-c-d names; defaults to the first forward zone. */
  nameZone?: string;
}

const PROTO_LABEL: { [p: number]: string } = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

export function srvNameOf(s: ServiceSource, rgwFormats = false): string | undefined {
  if (s.port <= 0) return undefined;
  // Realm Gateway writes the protocol as its number (`_22._6.`), any protocol included (`_0`)
  if (rgwFormats) return `_${s.port}._${s.protocol}.${canonicalName(s.fqdn)}`;
  const label = PROTO_LABEL[s.protocol];
  return label ? `_${s.port}._${label}.${canonicalName(s.fqdn)}` : undefined;
}

export function poolHostName(address: number, zone: string): string {
  return `pool-${formatIpv4(address).replace(/\./g, '-')}.${zone}`;
}

/**
 * Builds the two views of our zones. Both share the zone files; they differ in what the policies add:
 * LAN hosts see their peers' private addresses and PTRs, the Internet sees service names that allocate.
 */
export function buildViews(
  zones: ZoneSource[],
  hosts: HostSource[],
  pool: PoolNaming,
  forwards: readonly PublishedForward[] = [],
  rgwFormats = false,
): { wan: View; lan: View } {
  const wanTree = new ZoneTree(zones);
  const lanTree = new ZoneTree(zones);
  const services = new Map<string, ServiceEntry>();
  const defaultTtl = (tree: ZoneTree, name: string) => tree.findZone(name)?.soa.ttl ?? 60;

  for (const host of hosts) {
    const names = new Set([...host.fqdns.map(canonicalName), canonicalName(host.id), ...host.services.map((s) => canonicalName(s.fqdn))]);
    for (const name of names) {
      for (const addr of host.ipv4s.length ? host.ipv4s : [host.ipv4]) {
        lanTree.add({ name, type: 'A', ttl: defaultTtl(lanTree, name), data: addr });
      }
    }
    for (const addr of host.ipv4s.length ? host.ipv4s : [host.ipv4]) {
      const rev = reverseName(addr);
      lanTree.add({ name: rev, type: 'PTR', ttl: defaultTtl(lanTree, rev), data: canonicalName(host.fqdns[0] ?? host.id) });
    }
    for (const s of host.services) {
      const entry: ServiceEntry = {
        ...s,
        fqdn: canonicalName(s.fqdn),
        hostId: canonicalName(host.id),
        target: parseIpv4(host.ipv4),
        hostMax: host.circularPoolMax,
        srvName: srvNameOf(s, rgwFormats),
      };
      services.set(entry.fqdn, entry);
      wanTree.touch(entry.fqdn);
      if (entry.srvName) {
        services.set(entry.srvName, entry);
        wanTree.touch(entry.srvName);
      }
    }
  }

  // Static forwards never change address: an ordinary zone TTL, and `_<port>._<proto>` SRV as for service names.
  for (const f of forwards) {
    const name = canonicalName(f.name);
    wanTree.add({ name, type: 'A', ttl: defaultTtl(wanTree, name), data: f.address });
    for (const port of f.ports) {
      const owner = `_${port}._${f.protocol}.${name}`;
      wanTree.add({ name: owner, type: 'SRV', ttl: defaultTtl(wanTree, owner), data: { priority: 10, weight: 100, port, target: name } });
    }
  }

  const forwardZones = [...wanTree.origins()].filter((o) => !isInZone(o, 'in-addr.arpa') && !isInZone(o, 'ip6.arpa'));
  const nameZone = pool.nameZone ? canonicalName(pool.nameZone) : forwardZones[0];
  const reverseOrigins = wanTree.origins().filter((o) => isInZone(o, 'in-addr.arpa'));
  // A pool can hold a million addresses; decide per /24 whether any reverse zone can hold their PTRs, so a
  // pool without a reverse zone costs nothing at start-up.
  const coveredBlocks = new Map<number, boolean>();
  const blockCovered = (address: number) => {
    const block = address >>> 8;
    let covered = coveredBlocks.get(block);
    if (covered === undefined) {
      const rev24 = reverseName(formatIpv4(address)).replace(/^\d+\./, '');
      covered = !!wanTree.findZone(rev24) || reverseOrigins.some((o) => isInZone(o, rev24));
      coveredBlocks.set(block, covered);
    }
    return covered;
  };
  for (const tree of nameZone && reverseOrigins.length ? [wanTree, lanTree] : []) {
    for (const address of pool.addresses) {
      if (!blockCovered(address)) continue;
      const rev = reverseName(formatIpv4(address));
      if (!tree.findZone(rev)) continue;
      const name = poolHostName(address, nameZone!);
      tree.add({ name: rev, type: 'PTR', ttl: defaultTtl(tree, rev), data: name });
      tree.add({ name, type: 'A', ttl: defaultTtl(tree, name), data: formatIpv4(address) });
    }
  }

  return {
    wan: { name: 'wan', tree: wanTree, services, forwards: false, serviceAddress: pool.serviceAddress, ...(rgwFormats ? { rgwFormats } : {}) },
    lan: { name: 'lan', tree: lanTree, services: new Map(), forwards: true, serviceAddress: pool.serviceAddress },
  };
}
