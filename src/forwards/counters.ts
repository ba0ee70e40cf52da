import { formatIpv4 } from '../util/ipv4.js';
import type { StaticForward } from './model.js';
import { forwardCounters } from './render.js';

/** One forward as `/stats` and `realmgw forwards` show it: what it maps, and what went through it. */
export interface ForwardStats {
  name: string;
  protocol: string;
  /** "100.64.1.130:2222" or "100.64.1.130:6000-6002". */
  public: string;
  /** "192.168.0.100:22" or "192.168.0.101:7000-7002". */
  private: string;
  mode: 'dnat' | 'fullnat';
  allowFrom: number;
  /** Connections opened; packets and bytes of them, both directions. Absent when the kernel had no counter. */
  connections?: number;
  packets?: number;
  bytes?: number;
}

interface NftCounter {
  name?: string;
  packets?: number;
  bytes?: number;
}

/** Named counters of an `nft -j list counters table ip <t>` dump; malformed input gives an empty map. */
export function parseNftCounters(json: string): Map<string, { packets: number; bytes: number }> {
  const out = new Map<string, { packets: number; bytes: number }>();
  try {
    for (const item of (JSON.parse(json) as { nftables?: { counter?: NftCounter }[] }).nftables ?? []) {
      const c = item.counter;
      if (c?.name !== undefined && typeof c.packets === 'number' && typeof c.bytes === 'number') out.set(c.name, { packets: c.packets, bytes: c.bytes });
    }
  } catch {
    // a dump we cannot read counts nothing rather than throwing into /stats
  }
  return out;
}

const span = (a: number, first: number, last: number) => `${formatIpv4(a)}:${first === last ? first : `${first}-${last}`}`;

/** The forwards with their kernel counters (pure). */
export function forwardStats(forwards: readonly StaticForward[], counters: ReadonlyMap<string, { packets: number; bytes: number }>): ForwardStats[] {
  return forwards.map((f) => {
    const names = forwardCounters(f.name);
    const opened = counters.get(names.connections);
    const traffic = counters.get(names.traffic);
    return {
      name: f.name,
      protocol: f.protocol,
      public: span(f.address, f.first, f.last),
      private: span(f.toAddress, f.toPort, f.toPort + (f.last - f.first)),
      mode: f.snatTo !== undefined ? 'fullnat' : 'dnat',
      allowFrom: f.allowFrom.length,
      ...(opened ? { connections: opened.packets } : {}),
      ...(traffic ? { packets: traffic.packets, bytes: traffic.bytes } : {}),
    };
  });
}
