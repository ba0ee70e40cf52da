/**
 * Per-lease traffic accounting. The backend reads absolute counters from the kernel (IPVS service stats or nft
 * counters) and merges each reading into the lease's account; a reading below the previous one means the
 * kernel object was recreated (gateway restart, a moved worker), so it counts from zero again.
 * "In" is toward the worker (clients' packets), "out" is back to the clients.
 */
import type { Lease } from './lease.js';

export interface Counters {
  readonly connections: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

const FIELDS = ['connections', 'packetsIn', 'packetsOut', 'bytesIn', 'bytesOut'] as const;

export const ZERO_COUNTERS: Counters = Object.freeze({ connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 });

export interface LeaseAccount {
  readonly lease: Lease;
  /** Everything counted for this lease since its first reading. */
  readonly total: Counters;
  /** The last kernel reading, to take differences against. */
  readonly last: Counters;
  readonly since: number;
  readonly updatedAt: number;
}

/**
 * The account after a kernel reading `sample` for `lease` at `now`. An account of another lease (the public
 * port went to someone else, or the worker moved) is not continued: the lease gets a fresh account.
 */
export function mergeSample(account: LeaseAccount | undefined, lease: Lease, sample: Counters, now: number): LeaseAccount {
  checkCounters(sample);
  if (account === undefined || !sameLease(account.lease, lease)) {
    return Object.freeze({ lease, total: freeze(sample), last: freeze(sample), since: now, updatedAt: now });
  }
  const total: Record<string, number> = {};
  for (const f of FIELDS) {
    const delta = sample[f] >= account.last[f] ? sample[f] - account.last[f] : sample[f];
    total[f] = account.total[f] + delta;
  }
  return Object.freeze({ lease, total: freeze(total as unknown as Counters), last: freeze(sample), since: account.since, updatedAt: now });
}

export function addCounters(a: Counters, b: Counters): Counters {
  const out: Record<string, number> = {};
  for (const f of FIELDS) out[f] = a[f] + b[f];
  return freeze(out as unknown as Counters);
}

/** Totals per worker, for `realmgw workers`. */
export function totalsByWorker(accounts: Iterable<LeaseAccount>): Map<string, Counters> {
  const out = new Map<string, Counters>();
  for (const a of accounts) out.set(a.lease.worker, addCounters(out.get(a.lease.worker) ?? ZERO_COUNTERS, a.total));
  return out;
}

function sameLease(a: Lease, b: Lease): boolean {
  return (
    a.worker === b.worker &&
    a.protocol === b.protocol &&
    a.publicPort === b.publicPort &&
    a.target.address === b.target.address &&
    a.target.port === b.target.port
  );
}

function checkCounters(c: Counters): void {
  for (const f of FIELDS) {
    if (!Number.isSafeInteger(c[f]) || c[f] < 0) throw new TypeError(`accounting: ${f} must be a whole number >= 0, got ${String(c[f])}`);
  }
}

function freeze(c: Counters): Counters {
  return Object.freeze({ connections: c.connections, packetsIn: c.packetsIn, packetsOut: c.packetsOut, bytesIn: c.bytesIn, bytesOut: c.bytesOut });
}
