/** Shared fixtures for the pool tests (not a test file). */
import { CircularPool, type ReleaseReason, type Reservation, type ReservationRequest } from '../../src/pool/circular-pool.js';
import type { FlowKey } from '../../src/pool/flow-key.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

export const A = parseIpv4('198.51.100.1');
export const B = parseIpv4('198.51.100.2');
export const C = parseIpv4('198.51.100.3');
export const D = parseIpv4('198.51.100.4');

export const TCP80: FlowKey = { protocol: 6, port: 80 };
export const TCP22: FlowKey = { protocol: 6, port: 22 };
export const TCP_ANY: FlowKey = { protocol: 6, port: 0 };
export const UDP_ANY: FlowKey = { protocol: 17, port: 0 };
export const ICMP: FlowKey = { protocol: 1, port: 0 };
export const ANY_80: FlowKey = { protocol: 0, port: 80 };
export const ANY_443: FlowKey = { protocol: 0, port: 443 };
export const ANY: FlowKey = { protocol: 0, port: 0 };

export function req(key: FlowKey, extra: Partial<ReservationRequest> = {}): ReservationRequest {
  return { key, hostId: 'host-a.gwa.demo', target: parseIpv4('192.168.0.10'), service: 'www.host-a.gwa.demo', ...extra };
}

export interface Released {
  r: Reservation;
  why: ReleaseReason;
}

/** A pool whose releases are recorded in `released`. */
export function recordingPool(addresses: number[], lifetimeMs = 2000): { pool: CircularPool; released: Released[] } {
  const released: Released[] = [];
  const pool = new CircularPool({ addresses, lifetimeMs, onRelease: (r, why) => released.push({ r, why }) });
  return { pool, released };
}

/** The reserved address, failing loudly when the reservation was refused. */
export function addressOf(result: ReturnType<CircularPool['reserve']>): number {
  if (!result.ok) throw new Error(`reservation refused: ${result.reason}`);
  return result.reservation.address;
}
