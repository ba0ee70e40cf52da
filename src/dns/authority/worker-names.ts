import type { Record } from '../wire/encode-response.js';
import { canonicalName } from '../names.js';

/** What DNS needs to know about one registered worker (src/workers' WorkersService.records() maps onto it). */
export interface WorkerNameSource {
  name: string;
  leases: readonly { protocol: 'tcp' | 'udp'; port: number; publicPort: number }[];
}

/**
 * Names that exist only while workers are registered: `<worker>.<zone>` A -> the gateway's public address and
 * `_<port>._<proto>.<worker>.<zone>` SRV -> the leased public port (port being the worker's own port, so a
 * client that knows the service asks for the name it expects). Rebuilt whole on every registry change; the
 * query handlers' answer caches are cleared with it.
 */
export interface DynamicNames {
  readonly records: ReadonlyMap<string, ReadonlyMap<string, Record[]>>;
  /** Names with nothing of their own but dynamic names below them (`_tcp.<worker>.<zone>`): NODATA, not NXDOMAIN. */
  readonly nonTerminals: ReadonlySet<string>;
}

export const NO_DYNAMIC_NAMES: DynamicNames = Object.freeze({ records: new Map(), nonTerminals: new Set<string>() });

/**
 * TTL 0: a worker that misses its heartbeats loses its ports within seconds, and a public port can go to
 * another worker after its cool-down; a cached SRV would send clients to someone else's service.
 */
const TTL = 0;

export function workerNames(workers: Iterable<WorkerNameSource>, zone: string, publicAddress: string): DynamicNames {
  const z = canonicalName(zone);
  const records = new Map<string, Map<string, Record[]>>();
  const nonTerminals = new Set<string>();
  const add = (name: string, rr: Record) => {
    let node = records.get(name);
    if (!node) records.set(name, (node = new Map()));
    const list = node.get(rr.type);
    if (list) list.push(rr);
    else node.set(rr.type, [rr]);
  };
  for (const w of workers) {
    const host = `${canonicalName(w.name)}.${z}`;
    add(host, { name: host, type: 'A', ttl: TTL, data: publicAddress });
    for (const l of w.leases) {
      const proto = `_${l.protocol}.${host}`;
      nonTerminals.add(proto);
      const name = `_${l.port}.${proto}`;
      add(name, { name, type: 'SRV', ttl: TTL, data: { priority: 10, weight: 100, port: l.publicPort, target: host } });
    }
  }
  for (const name of records.keys()) nonTerminals.delete(name);
  return { records, nonTerminals };
}
