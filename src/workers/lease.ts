/** What a lease is, the diffs the kernel backends apply, and the endpoint string reported to workers. */

export type Protocol = 'tcp' | 'udp';
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp'];

/** A service a worker exports: a port on the worker itself. */
export interface Service {
  readonly port: number;
  readonly protocol: Protocol;
}

/**
 * One public port of the gateway mapped to one service of one worker. `target.address` is always the address
 * the worker's registration came from, never one it claimed.
 */
export interface Lease {
  readonly worker: string;
  readonly publicPort: number;
  readonly protocol: Protocol;
  readonly target: { readonly address: string; readonly port: number };
}

/**
 * A change to the mappings: the backend applies every `remove` before any `add` (a worker that moved keeps its
 * public ports, so a port can leave with the old target and come back with the new one in one diff). Applying
 * the inverse (`invertDiff`) undoes it.
 */
export interface LeaseDiff {
  readonly add: readonly Lease[];
  readonly remove: readonly Lease[];
}

export const EMPTY_DIFF: LeaseDiff = Object.freeze({ add: Object.freeze([]), remove: Object.freeze([]) });

export function makeLease(worker: string, service: Service, publicPort: number, address: string): Lease {
  return Object.freeze({
    worker,
    publicPort,
    protocol: service.protocol,
    target: Object.freeze({ address, port: service.port }),
  });
}

/** `tcp/10053`: a service's identity inside one worker. */
export function serviceKey(s: { protocol: Protocol; port: number }): string {
  return `${s.protocol}/${s.port}`;
}

/** Deterministic order: worker, protocol, target port. */
export function compareLeases(a: Lease, b: Lease): number {
  if (a.worker !== b.worker) return a.worker < b.worker ? -1 : 1;
  if (a.protocol !== b.protocol) return a.protocol < b.protocol ? -1 : 1;
  return a.target.port - b.target.port;
}

export function invertDiff(diff: LeaseDiff): LeaseDiff {
  return { add: diff.remove, remove: diff.add };
}

/** `10053/tcp->100.64.1.130:32898`: the worker's port and protocol, then the gateway's public address and port. */
export function formatEndpoint(lease: Lease, publicAddress: string): string {
  return `${lease.target.port}/${lease.protocol}->${publicAddress}:${lease.publicPort}`;
}

export interface Endpoint {
  port: number;
  protocol: Protocol;
  address: string;
  publicPort: number;
}

const ENDPOINT = /^(\d{1,5})\/(tcp|udp)->(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

/** The inverse of formatEndpoint; undefined for anything else. */
export function parseEndpoint(text: string): Endpoint | undefined {
  const m = ENDPOINT.exec(text);
  if (m === null) return undefined;
  const port = Number(m[1]);
  const publicPort = Number(m[4]);
  if (!isPort(port) || !isPort(publicPort) || m[3].split('.').some((o) => Number(o) > 255 || /^0\d/.test(o))) return undefined;
  return { port, protocol: m[2] as Protocol, address: m[3], publicPort };
}

export function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}
