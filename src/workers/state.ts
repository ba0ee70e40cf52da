/**
 * The registry's durable state: registrations with their leases and last-seen time, and running cool-downs.
 * Times are epoch milliseconds (the registry's `now`), so they mean the same after a restart. The target
 * address of every lease is its registration's address, so the format cannot express a lease elsewhere.
 */
import { isIpv4 } from '../util/ipv4.js';
import { PROTOCOLS, type Protocol, isPort } from './lease.js';

export interface SavedLease {
  protocol: Protocol;
  /** The worker's port. */
  port: number;
  publicPort: number;
}

export interface SavedRegistration {
  worker: string;
  address: string;
  lastSeen: number;
  leases: SavedLease[];
}

export interface SavedCoolDown {
  protocol: Protocol;
  publicPort: number;
  /** The port may be leased again from this time on. */
  until: number;
}

/** Canonical order: registrations by worker, leases by protocol and port, cool-downs by protocol and port. */
export interface RegistryState {
  registrations: SavedRegistration[];
  coolDowns: SavedCoolDown[];
}

/**
 * Everything wrong with `value` as a RegistryState, config aside: shapes, types, duplicates, and any public
 * port held twice (by two leases, or by a lease and a cool-down). Empty when it is consistent.
 */
export function stateProblems(value: unknown): string[] {
  const problems: string[] = [];
  const fail = (where: string, reason: string) => problems.push(`${where}: ${reason}`);
  if (!isObject(value)) return ['(top level): not an object'];
  const { registrations, coolDowns } = value;
  if (!Array.isArray(registrations)) fail('registrations', 'not a list');
  if (!Array.isArray(coolDowns)) fail('coolDowns', 'not a list');
  if (problems.length > 0) return problems;

  const holder = new Map<string, string>();
  const hold = (where: string, protocol: Protocol, publicPort: number) => {
    const key = `${protocol}/${publicPort}`;
    const other = holder.get(key);
    if (other !== undefined) fail(where, `public port ${key} is also held by ${other}`);
    else holder.set(key, where);
  };
  const workers = new Set<string>();
  (registrations as unknown[]).forEach((r, i) => {
    const at = `registrations[${i}]`;
    if (!isObject(r)) return fail(at, 'not an object');
    if (typeof r.worker !== 'string' || r.worker === '') return fail(`${at}.worker`, 'not a worker name');
    if (workers.has(r.worker)) fail(`${at}.worker`, `${r.worker} appears twice`);
    workers.add(r.worker);
    if (typeof r.address !== 'string' || !isIpv4(r.address)) fail(`${at}.address`, 'not an IPv4 address');
    if (!isTime(r.lastSeen)) fail(`${at}.lastSeen`, 'not a time');
    if (!Array.isArray(r.leases)) return fail(`${at}.leases`, 'not a list');
    const services = new Set<string>();
    r.leases.forEach((l: unknown, j: number) => {
      const lat = `${at}.leases[${j}]`;
      if (!isObject(l) || !isProtocol(l.protocol) || !isPort(l.port) || !isPort(l.publicPort)) {
        return fail(lat, 'not {protocol: tcp|udp, port, publicPort}');
      }
      const service = `${l.protocol}/${l.port}`;
      if (services.has(service)) fail(lat, `service ${service} leased twice`);
      services.add(service);
      hold(lat, l.protocol, l.publicPort);
    });
  });
  (coolDowns as unknown[]).forEach((c, i) => {
    const at = `coolDowns[${i}]`;
    if (!isObject(c) || !isProtocol(c.protocol) || !isPort(c.publicPort) || !isTime(c.until)) {
      return fail(at, 'not {protocol: tcp|udp, publicPort, until}');
    }
    hold(at, c.protocol, c.publicPort);
  });
  return problems;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isProtocol(v: unknown): v is Protocol {
  return PROTOCOLS.includes(v as Protocol);
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
