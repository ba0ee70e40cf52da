import type { Record } from '../wire/response-spec.js';
import { isInZone, parentName } from '../names.js';

/** What a loader hands us for one zone; structurally matches src/zones' model. */
export interface ZoneSource {
  origin: string;
  soa: Record;
  records: Record[];
}

export interface ZoneData {
  origin: string;
  soa: Record;
  /** name → type → records */
  nodes: Map<string, Map<string, Record[]>>;
  /** Every name that exists, empty non-terminals included (they answer NODATA, not NXDOMAIN). */
  names: Set<string>;
}

export type Lookup =
  | { kind: 'none' } // no zone of ours holds the name
  | { kind: 'nxdomain'; zone: ZoneData }
  | { kind: 'exists'; zone: ZoneData; node: Map<string, Record[]> | undefined };

/**
 * The records a view serves, indexed for lookup. Zone choice walks labels from the name up, so the longest
 * zone wins and "evilgwa.demo" never lands in "gwa.demo".
 */
export class ZoneTree {
  private readonly zones = new Map<string, ZoneData>();

  constructor(sources: ZoneSource[]) {
    for (const src of sources) {
      const zone: ZoneData = { origin: src.origin, soa: src.soa, nodes: new Map(), names: new Set() };
      this.zones.set(src.origin, zone);
      for (const rr of src.records) this.add(rr);
    }
  }

  /** Adds a record to the zone that holds its name; returns false when no zone does. */
  add(rr: Record): boolean {
    const zone = this.findZone(rr.name);
    if (!zone) return false;
    let node = zone.nodes.get(rr.name);
    if (!node) zone.nodes.set(rr.name, (node = new Map()));
    const set = node.get(rr.type);
    if (set) {
      if (!set.some((r) => r.ttl === rr.ttl && JSON.stringify(r.data) === JSON.stringify(rr.data))) set.push(rr);
    } else node.set(rr.type, [rr]);
    this.markExists(zone, rr.name);
    return true;
  }

  /** Makes a name exist (NODATA rather than NXDOMAIN) without giving it records. */
  touch(name: string): boolean {
    const zone = this.findZone(name);
    if (!zone) return false;
    this.markExists(zone, name);
    return true;
  }

  private markExists(zone: ZoneData, name: string): void {
    for (let n: string | undefined = name; n !== undefined && isInZone(n, zone.origin); n = parentName(n)) {
      if (zone.names.has(n)) break;
      zone.names.add(n);
    }
  }

  findZone(name: string): ZoneData | undefined {
    for (let n: string | undefined = name; n !== undefined; n = parentName(n)) {
      const zone = this.zones.get(n);
      if (zone) return zone;
    }
    return undefined;
  }

  lookup(name: string): Lookup {
    const zone = this.findZone(name);
    if (!zone) return { kind: 'none' };
    if (!zone.names.has(name)) return { kind: 'nxdomain', zone };
    return { kind: 'exists', zone, node: zone.nodes.get(name) };
  }

  origins(): string[] {
    return [...this.zones.keys()];
  }
}
