/**
 * Per-lease counters from ONE `nft -j list table ip <table>` (pure): the map names the leases, the three
 * counted sets hold their connections and their traffic in each direction (nft-render.ts).
 */
import type { ErrorCode } from '../../errors/catalogue.js';
import { errorMessage } from '../../errors/realmgw-error.js';
import { type Counters, ZERO_COUNTERS } from '../accounting.js';
import type { Protocol } from '../lease.js';
import { leaseId } from '../mapping-backend.js';
import { NFT_WORKERS_SETS } from './nft-render.js';

/** The listing is not what this backend writes (another nft version, another table). */
export class NftCountersError extends Error {
  readonly code = 'RGW_NFT_WORKERS_COUNTERS' satisfies ErrorCode;
  constructor(message: string) {
    super(errorMessage('RGW_NFT_WORKERS_COUNTERS', { reason: message }));
    this.name = 'NftCountersError';
  }
}

interface Counted {
  packets: number;
  bytes: number;
}

/**
 * Counters keyed by leaseId (`tcp/40001`) for every lease in the map. A lease whose counted element is missing
 * reads zero for it (the sets and the map change together in one transaction, so this is only a listing race).
 */
export function parseNftWorkerCounters(json: string, table: string): Map<string, Counters> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new NftCountersError(`not JSON (${(err as Error).message})`);
  }
  const items = (doc as { nftables?: unknown })?.nftables;
  if (!Array.isArray(items)) throw new NftCountersError('no "nftables" array in the listing');

  let leaseKeys: string[] | undefined;
  const counted = new Map<string, Map<string, Counted>>();
  for (const item of items) {
    const map = (item as { map?: NftSetJson }).map;
    if (map && map.table === table && map.name === NFT_WORKERS_SETS.leases) {
      leaseKeys = (map.elem ?? []).map((e) => keyOf(Array.isArray(e) ? e[0] : undefined));
    }
    const set = (item as { set?: NftSetJson }).set;
    if (set && set.table === table) counted.set(set.name, countedElements(set));
  }
  if (leaseKeys === undefined) throw new NftCountersError(`no map ${NFT_WORKERS_SETS.leases} in table ${table}`);

  const read = (set: string, key: string): Counted => counted.get(set)?.get(key) ?? { packets: 0, bytes: 0 };
  const out = new Map<string, Counters>();
  for (const key of leaseKeys) {
    const conns = read(NFT_WORKERS_SETS.conns, key);
    const toWorker = read(NFT_WORKERS_SETS.trafficIn, key);
    const toClient = read(NFT_WORKERS_SETS.trafficOut, key);
    out.set(key, {
      ...ZERO_COUNTERS,
      connections: conns.packets,
      packetsIn: toWorker.packets,
      bytesIn: toWorker.bytes,
      packetsOut: toClient.packets,
      bytesOut: toClient.bytes,
    });
  }
  return out;
}

interface NftSetJson {
  name: string;
  table: string;
  elem?: unknown[];
}

function countedElements(set: NftSetJson): Map<string, Counted> {
  const out = new Map<string, Counted>();
  for (const e of set.elem ?? []) {
    // an element with statements is {"elem": {"val": KEY, "counter": {...}}}; a bare one is KEY itself
    const wrapped = (e as { elem?: { val?: unknown; counter?: Partial<Counted> } }).elem;
    const key = keyOf(wrapped ? wrapped.val : e);
    const c = wrapped?.counter;
    out.set(key, { packets: count(c?.packets, key), bytes: count(c?.bytes, key) });
  }
  return out;
}

const PROTOCOL_NUMBERS: Record<number, Protocol> = { 6: 'tcp', 17: 'udp' };

/** `{"concat": ["tcp", 40001]}` -> `tcp/40001` (leaseId's form). */
function keyOf(value: unknown): string {
  const parts = (value as { concat?: unknown[] })?.concat;
  if (!Array.isArray(parts) || parts.length !== 2) throw new NftCountersError(`unexpected element key ${JSON.stringify(value)}`);
  const [proto, port] = parts;
  const protocol = typeof proto === 'number' ? PROTOCOL_NUMBERS[proto] : proto;
  if ((protocol !== 'tcp' && protocol !== 'udp') || !Number.isInteger(port)) {
    throw new NftCountersError(`unexpected element key ${JSON.stringify(value)}`);
  }
  return leaseId({ protocol, publicPort: port as number });
}

function count(n: unknown, key: string): number {
  if (n === undefined) return 0;
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new NftCountersError(`counter of ${key} is ${JSON.stringify(n)}`);
  return n as number;
}
