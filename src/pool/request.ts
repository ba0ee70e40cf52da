/** Types and validation of what callers hand to the pool. Validation throws PoolError: bad input is a caller bug. */
import { type FlowKey, assertFlowKey } from './flow-key.js';
import { PoolError } from './pool-error.js';

export interface ReservationRequest {
  key: FlowKey;
  /** The host's FQDN, canonical: lowercase, no trailing dot. */
  hostId: string;
  /** Private address of the host, u32. */
  target: number;
  /** The service name (FQDN) that was queried. */
  service: string;
  /** Default from the pool options. */
  lifetimeMs?: number;
  /** CIRCULARPOOL.max of the host: cap on its pending reservations (undefined = no cap). */
  hostMax?: number;
  /** Only packets from this IPv4 prefix may match; host bits of `network` must be 0. */
  source?: { network: number; prefixLength: number };
  /**
   * Realm Gateway's loose_packet: 0 or absent, single use; N > 0, after the first flow the reservation admits N
   * more new flows, only from the first flow's source address; -1, flows from that source until it expires.
   */
  loosePacket?: number;
  /** Carried through untouched for whoever asked (the allocation gate's ticket: who to credit or blame). */
  owner?: object;
}

export interface PoolOptions {
  /** Pool addresses (u32), in the order the cursor walks them. */
  addresses: number[];
  /** Default reservation lifetime. */
  lifetimeMs: number;
  /** Called exactly once for every reservation when it leaves the pool, after the pool's state is updated. */
  onRelease?: (r: Reservation, why: ReleaseReason) => void;
  /** How many distinct flow keys keep a conflict bitset (size/8 bytes each); default 64. */
  maxTrackedKeys?: number;
}

export interface Reservation extends Readonly<ReservationRequest> {
  readonly id: number;
  readonly address: number;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type ReleaseReason = 'expired' | 'consumed' | 'cancelled';

const U32_MAX = 0xffffffff;

export function isU32(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= U32_MAX;
}

function isPositiveDuration(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0;
}

/** Checks a request and returns its effective lifetime. */
export function checkRequest(req: ReservationRequest, defaultLifetimeMs: number): number {
  if (typeof req !== 'object' || req === null) throw new PoolError('reservation request must be an object');
  assertFlowKey(req.key);
  if (typeof req.hostId !== 'string' || req.hostId === '' || /[A-Z]|\.$/.test(req.hostId)) {
    throw new PoolError(`hostId must be a canonical FQDN (lowercase, no trailing dot), got ${JSON.stringify(req.hostId)}`);
  }
  if (!isU32(req.target)) throw new PoolError(`target must be an IPv4 address as u32, got ${String(req.target)}`);
  if (typeof req.service !== 'string' || req.service === '') {
    throw new PoolError(`service must be a non-empty name, got ${JSON.stringify(req.service)}`);
  }
  if (req.lifetimeMs !== undefined && !isPositiveDuration(req.lifetimeMs)) {
    throw new PoolError(`lifetimeMs must be a finite number > 0, got ${String(req.lifetimeMs)}`);
  }
  if (req.hostMax !== undefined && !(Number.isInteger(req.hostMax) && req.hostMax >= 0)) {
    throw new PoolError(`hostMax must be an integer >= 0, got ${String(req.hostMax)}`);
  }
  if (req.source !== undefined) checkSource(req.source);
  return req.lifetimeMs ?? defaultLifetimeMs;
}

function checkSource(source: { network: number; prefixLength: number }): void {
  const { network, prefixLength } = source;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new PoolError(`source prefixLength must be an integer 0..32, got ${String(prefixLength)}`);
  }
  if (!isU32(network)) throw new PoolError(`source network must be an IPv4 address as u32, got ${String(network)}`);
  if ((network & ~prefixMask(prefixLength)) !== 0) {
    throw new PoolError(`source network has bits set beyond its /${prefixLength} prefix`);
  }
}

/** Netmask as int32 (compare with `((a ^ net) & mask) === 0`). */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : -1 << (32 - prefixLength);
}

export function checkOptions(opts: PoolOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new PoolError('options must be an object');
  if (!Array.isArray(opts.addresses) || opts.addresses.length === 0) {
    throw new PoolError('the address list is empty: a pool needs at least one address');
  }
  for (const a of opts.addresses) {
    if (!isU32(a)) throw new PoolError(`pool address must be an IPv4 address as u32, got ${String(a)}`);
  }
  if (!isPositiveDuration(opts.lifetimeMs)) {
    throw new PoolError(`lifetimeMs must be a finite number > 0, got ${String(opts.lifetimeMs)}`);
  }
  if (opts.onRelease !== undefined && typeof opts.onRelease !== 'function') {
    throw new PoolError('onRelease must be a function');
  }
  const maxKeys = opts.maxTrackedKeys;
  if (maxKeys !== undefined && !(Number.isInteger(maxKeys) && maxKeys >= 1)) {
    throw new PoolError(`maxTrackedKeys must be an integer >= 1, got ${String(maxKeys)}`);
  }
}
