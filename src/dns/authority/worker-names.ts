import type { Record } from '../wire/response-spec.js';
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

/**
 * The names of registered workers, kept up to date one worker at a time: a worker's names all lie under
 * `<worker>.<zone>`, so workers never share a name and replacing one costs only its own leases.
 */
export class WorkerNameTable implements DynamicNames {
  readonly records = new Map<string, Map<string, Record[]>>();
  readonly nonTerminals = new Set<string>();
  private readonly owned = new Map<string, string[]>();
  private readonly zone: string;

  constructor(
    zone: string,
    private readonly publicAddress: string,
  ) {
    this.zone = canonicalName(zone);
  }

  /** Replaces a worker's names; `leases` undefined removes them. */
  set(worker: string, leases: WorkerNameSource['leases'] | undefined): void {
    for (const name of this.owned.get(worker) ?? []) {
      this.records.delete(name);
      this.nonTerminals.delete(name);
    }
    this.owned.delete(worker);
    if (leases === undefined) return;
    const names: string[] = [];
    const add = (name: string, rr: Record) => {
      let node = this.records.get(name);
      if (!node) {
        this.records.set(name, (node = new Map()));
        names.push(name);
      }
      const list = node.get(rr.type);
      if (list) list.push(rr);
      else node.set(rr.type, [rr]);
    };
    const host = `${canonicalName(worker)}.${this.zone}`;
    add(host, { name: host, type: 'A', ttl: TTL, data: this.publicAddress });
    for (const l of leases) {
      const proto = `_${l.protocol}.${host}`;
      if (!this.nonTerminals.has(proto)) {
        this.nonTerminals.add(proto);
        names.push(proto);
      }
      const name = `_${l.port}.${proto}`;
      add(name, { name, type: 'SRV', ttl: TTL, data: { priority: 10, weight: 100, port: l.publicPort, target: host } });
    }
    this.owned.set(worker, names);
  }
}

export function workerNames(workers: Iterable<WorkerNameSource>, zone: string, publicAddress: string): DynamicNames {
  const table = new WorkerNameTable(zone, publicAddress);
  for (const w of workers) table.set(w.name, w.leases);
  return table;
}
