/**
 * The registration protocol between workers and the gateway, shared by the API server and the worker client:
 * paths, bodies, refusal codes and their HTTP statuses. Pure; no sockets here.
 *
 *   POST   /v1/workers/:name/register   {services:[{port,protocol}], nat?}  -> 200 LeasesBody
 *   POST   /v1/workers/:name/heartbeat                                      -> 200 LeasesBody | 409 (register again)
 *   DELETE /v1/workers/:name                                                -> 200 {worker, leases: []}
 *   Authorization: Bearer <the worker's secret>
 */
import type { NatSummary } from '../view-model.js';
import { formatEndpoint, type Lease, type Protocol } from '../lease.js';
import type { RefusalCode } from '../request.js';

export const API_PREFIX = '/v1/workers/';
/** Bodies are a few hundred bytes; anything near this is garbage or an attack. */
export const MAX_BODY_BYTES = 64 * 1024;

export type Action = 'register' | 'heartbeat' | 'deregister';

/**
 * Codes on the wire. `unauthorized` stands for both unknown-worker and bad-secret, so a caller without the
 * secret cannot learn which worker names exist.
 */
export type WireErrorCode =
  | Exclude<RefusalCode, 'unknown-worker' | 'bad-secret'>
  | 'unauthorized'
  | 'body-too-large'
  | 'not-found'
  | 'method-not-allowed'
  | 'backend-failed'
  | 'unavailable';

export interface ErrorBody {
  error: WireErrorCode;
  message: string;
}

export interface WireLease {
  /** The worker's port. */
  port: number;
  protocol: Protocol;
  publicPort: number;
  /** `PORT/PROTO->ADDR:PUBPORT` */
  endpoint: string;
}

export interface LeasesBody {
  worker: string;
  /** The address the gateway maps to: the peer address of the registration's connection. */
  address: string;
  publicAddress: string;
  /** How often the gateway expects a heartbeat. */
  heartbeatMs: number;
  leases: WireLease[];
}

export type { NatSummary } from '../view-model.js';

export interface RegisterBody {
  services: { port: number; protocol: Protocol }[];
  nat?: NatSummary;
}

const STATUS: Record<WireErrorCode, number> = {
  'bad-request': 400,
  unauthorized: 401,
  'address-outside-private-network': 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'quota-exceeded': 409,
  'range-exhausted': 409,
  'not-registered': 409,
  'address-mismatch': 409,
  'body-too-large': 413,
  'backend-failed': 503,
  unavailable: 503,
};

export function statusOf(code: WireErrorCode): number {
  return STATUS[code];
}

/** The code a refusal travels as. */
export function wireCode(code: RefusalCode | Exclude<WireErrorCode, 'unauthorized'>): WireErrorCode {
  return code === 'unknown-worker' || code === 'bad-secret' ? 'unauthorized' : code;
}

/** The message a refusal travels with: the registry's own, except where it would tell names apart. */
export function wireMessage(code: WireErrorCode, message: string): string {
  return code === 'unauthorized' ? 'unknown worker or wrong secret' : message;
}

export function leasesBody(worker: string, address: string, publicAddress: string, heartbeatMs: number, leases: readonly Lease[]): LeasesBody {
  return {
    worker,
    address,
    publicAddress,
    heartbeatMs,
    leases: leases.map((l) => ({ port: l.target.port, protocol: l.protocol, publicPort: l.publicPort, endpoint: formatEndpoint(l, publicAddress) })),
  };
}

export interface Route {
  action: Action;
  worker: string;
}

/**
 * The route a method and path name, `{error}` when the path is ours but unusable, undefined when it is not
 * ours at all. Names are percent-decoded; their validity is the registry's to judge.
 */
export function parseRoute(method: string | undefined, url: string | undefined): Route | { error: 'not-found' | 'method-not-allowed' | 'bad-request' } {
  const path = (url ?? '').split('?')[0];
  if (!path.startsWith(API_PREFIX)) return { error: 'not-found' };
  const parts = path.slice(API_PREFIX.length).split('/');
  let worker: string;
  try {
    worker = decodeURIComponent(parts[0]);
  } catch {
    return { error: 'bad-request' };
  }
  if (worker === '') return { error: 'not-found' };
  if (parts.length === 1) return method === 'DELETE' ? { action: 'deregister', worker } : { error: 'method-not-allowed' };
  if (parts.length !== 2 || (parts[1] !== 'register' && parts[1] !== 'heartbeat')) return { error: 'not-found' };
  return method === 'POST' ? { action: parts[1], worker } : { error: 'method-not-allowed' };
}

export function routePath(action: Action, worker: string): string {
  const base = `${API_PREFIX}${encodeURIComponent(worker)}`;
  return action === 'deregister' ? base : `${base}/${action}`;
}

/** The secret of an `Authorization: Bearer <secret>` header, or undefined. */
export function bearerSecret(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer ([\x21-\x7e]+)$/.exec(header);
  return m === null ? undefined : m[1];
}

const NAT_STRINGS = ['classic', 'mapping', 'filtering', 'method', 'mappedAddress'] as const;

/**
 * The NAT summary a worker sent, reduced to known fields of sane size (it is only shown, never acted on), or
 * a reason it is unusable.
 */
export function checkNatSummary(value: unknown): NatSummary | undefined | { reason: string } {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return { reason: 'nat must be an object' };
  const v = value as Record<string, unknown>;
  const out: NatSummary = {};
  for (const k of NAT_STRINGS) {
    if (v[k] === undefined) continue;
    if (typeof v[k] !== 'string' || (v[k] as string).length > 64) return { reason: `nat.${k} must be a string of at most 64 characters` };
    out[k] = v[k] as string;
  }
  if (v.mappedPort !== undefined) {
    if (!Number.isInteger(v.mappedPort) || (v.mappedPort as number) < 0 || (v.mappedPort as number) > 65535) return { reason: 'nat.mappedPort must be a port' };
    out.mappedPort = v.mappedPort as number;
  }
  return out;
}
