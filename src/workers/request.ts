/**
 * Checks of what a worker sends, before anything changes. Results, not exceptions: a worker's bad input is a
 * refusal. Nothing here echoes a secret.
 */
import { isIpv4 } from '../util/ipv4.js';
import { PROTOCOLS, type Protocol, type Service, isPort } from './lease.js';

export type RefusalCode =
  | 'bad-request'
  | 'unknown-worker'
  | 'bad-secret'
  | 'address-outside-private-network'
  | 'quota-exceeded'
  | 'range-exhausted'
  /** heartbeat: the worker holds no registration (expired, deregistered, never registered): register again. */
  | 'not-registered'
  /** heartbeat: sent from another address than the registration: register again from there. */
  | 'address-mismatch';

export interface Refusal {
  readonly ok: false;
  readonly code: RefusalCode;
  /** The worker's name when it was a string (clipped), for logs. */
  readonly worker?: string;
  /** For people and logs; never contains a secret. */
  readonly message: string;
}

/** The peer of the connection the request came on, as the gateway's socket saw it. */
export interface From {
  address: string;
}

const MAX_SERVICES = 65536 * 2;

export function refusal(code: RefusalCode, name: unknown, message: string): Refusal {
  const worker = typeof name === 'string' ? clip(name) : undefined;
  return Object.freeze(worker === undefined ? { ok: false, code, message } : { ok: false, code, worker, message });
}

/** A name safe to print: at most 64 characters, control characters escaped. */
export function clip(name: string): string {
  const short = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return JSON.stringify(short).slice(1, -1);
}

/** The peer address as dotted IPv4 (an IPv4-mapped IPv6 address from a dual-stack socket is unwrapped). */
export function peerAddress(from: unknown): string | { reason: string } {
  const raw = typeof from === 'object' && from !== null ? (from as { address?: unknown }).address : undefined;
  if (typeof raw !== 'string') return { reason: 'the peer address is missing' };
  const address = raw.toLowerCase().startsWith('::ffff:') ? raw.slice(7) : raw;
  return isIpv4(address) ? address : { reason: `the peer address ${JSON.stringify(clip(raw))} is not IPv4` };
}

/** The declared services in canonical order (protocol, port), or why they are unusable. */
export function checkServices(services: unknown): Service[] | { reason: string } {
  if (!Array.isArray(services)) return { reason: 'services must be a list' };
  if (services.length > MAX_SERVICES) return { reason: `too many services (${services.length})` };
  const seen = new Set<string>();
  const out: Service[] = [];
  for (let i = 0; i < services.length; i++) {
    const s: unknown = services[i];
    const port = typeof s === 'object' && s !== null ? (s as { port?: unknown }).port : undefined;
    const protocol = typeof s === 'object' && s !== null ? (s as { protocol?: unknown }).protocol : undefined;
    if (!isPort(port)) return { reason: `services[${i}].port must be an integer 1-65535` };
    if (!PROTOCOLS.includes(protocol as Protocol)) return { reason: `services[${i}].protocol must be tcp or udp` };
    const key = `${protocol}/${port}`;
    if (seen.has(key)) return { reason: `services[${i}]: ${key} is declared twice` };
    seen.add(key);
    out.push(Object.freeze({ port, protocol: protocol as Protocol }));
  }
  return out.sort((a, b) => (a.protocol === b.protocol ? a.port - b.port : a.protocol < b.protocol ? -1 : 1));
}
