// NAT discovery (effects: one dgram socket, DNS lookup of server names, injectable timers): the mapped
// address, and the NAT's mapping and filtering behaviour by RFC 5780 when the server offers OTHER-ADDRESS,
// else by the RFC 3489 classic tests when it answers classic requests with CHANGED-ADDRESS. Servers are
// tried in order. Every outcome - blocked, unreachable, a bad local port - is a result; this never throws.
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { formatEndpoint, transportAddress, type TransportAddress } from './address.js';
import { BLOCKED, UNKNOWN, type Classification } from './classify.js';
import { runClassic, run5780, type Probe } from './discover-tests.js';
import { realTimers, StunTransactions, type RequestSpec, type Timers, type TransactionOutcome } from './transaction.js';

export interface StunServerAddress {
  /** IP literal or host name */
  address: string;
  port: number;
}

export interface DiscoverOptions {
  /** tried in order until one answers; at most 8 are used */
  servers: readonly StunServerAddress[];
  /** time budget of one request and its retransmissions (default 2000 ms) */
  timeoutMs?: number;
  /** retransmissions per request (default 2, at most 6) */
  retries?: number;
  /** first retransmission interval (default from timeoutMs and retries, at most 500 ms) */
  rtoMs?: number;
  localAddress?: string;
  localPort?: number;
  /** 'auto' (default): RFC 5780 when the server sends OTHER-ADDRESS, else classic RFC 3489 */
  mode?: 'auto' | 'rfc5780' | 'rfc3489';
  timers?: Timers;
  logger?: Logger;
  /** SOFTWARE attribute of our RFC 5389 requests (default none) */
  software?: string;
  /** this host's addresses, to tell "no NAT" (default: the bound address, or every interface address) */
  localAddresses?: readonly string[];
}

export interface DiscoveryTest {
  name: string;
  to: string;
  classic: boolean;
  change?: 'ip' | 'port' | 'ip+port';
  outcome: 'response' | 'error-response' | 'timeout';
  mapped?: string;
  from?: string;
  errorCode?: number;
  attempts: number;
  ms: number;
}

export interface NatDiscovery extends Classification {
  mappedAddress?: string;
  mappedPort?: number;
  /** the server whose answers the classification rests on */
  server?: StunServerAddress;
  /** how the behaviour was tested: 'binding' = the server answered but offers no alternate address */
  method: 'rfc5780' | 'rfc3489' | 'binding' | 'none';
  details: {
    local?: { address: string; port: number };
    /** the server's alternate address (OTHER-ADDRESS or CHANGED-ADDRESS) */
    otherAddress?: string;
    tests: DiscoveryTest[];
    notes: string[];
    errors: string[];
    elapsedMs: number;
  };
}

const MAX_SERVERS = 8;
const MAX_ERRORS = 32;

export async function discoverNat(options: DiscoverOptions): Promise<NatDiscovery> {
  const opts: Partial<DiscoverOptions> = options ?? {};
  const timers = opts.timers ?? realTimers;
  const clock = () => (timers.now ? timers.now() : performance.now());
  const started = clock();
  const details: NatDiscovery['details'] = { tests: [], notes: [], errors: [], elapsedMs: 0 };
  const done = (c: Classification, rest: Partial<NatDiscovery> = {}): NatDiscovery => {
    details.elapsedMs = Math.round(clock() - started);
    return { ...c, method: 'none', ...rest, details };
  };
  const servers = (Array.isArray(opts.servers) ? opts.servers : []).slice(0, MAX_SERVERS);
  if (servers.length === 0) {
    details.notes.push('no STUN server configured');
    return done(UNKNOWN);
  }

  const v6 = opts.localAddress !== undefined && isIPv6(opts.localAddress);
  let socket: dgram.Socket;
  try {
    socket = await openSocket(v6, opts.localAddress, opts.localPort ?? 0);
  } catch (err) {
    details.errors.push(`cannot bind the local socket: ${(err as Error).message}`);
    return done(UNKNOWN);
  }
  const addError = (e: string) => details.errors.length < MAX_ERRORS && details.errors.push(e);
  const tx = new StunTransactions(
    (bytes, to, cb) => socket.send(bytes, to.port, to.address, cb),
    { timeoutMs: opts.timeoutMs ?? 2000, retries: opts.retries ?? 2, rtoMs: opts.rtoMs },
    timers,
  );
  socket.on('message', (m, r) => tx.handle(m, r));
  socket.on('error', (err) => addError(`socket: ${err.message}`));
  try {
    const bound = socket.address();
    details.local = { address: bound.address, port: bound.port };
    const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
    const localIps = new Set(opts.localAddresses ?? (wildcard ? interfaceAddresses() : [bound.address]));
    let packetsLeft = false;
    const probe: Probe = async (name, to, spec = {}) => {
      const o = await tx.request(to, { ...spec, software: opts.software });
      if (o.kind === 'response' || o.sendErrors < o.attempts) packetsLeft = true;
      if (o.kind === 'timeout' && o.lastError) addError(`${name} to ${formatEndpoint(to)}: ${o.lastError}`);
      details.tests.push(record(name, to, spec, o));
      opts.logger?.debug({ test: details.tests.at(-1) }, 'STUN discovery test');
      return o;
    };
    const isLocal = (m: TransportAddress) => m.port === bound.port && localIps.has(m.address);

    let fallback: NatDiscovery | undefined;
    for (const server of servers) {
      const target = await resolve(server, v6, addError);
      if (!target) continue;
      const r = await probeServer(probe, target, opts.mode ?? 'auto', isLocal, details.notes);
      if (!r) continue;
      const found = { mappedAddress: r.mapped.address, mappedPort: r.mapped.port, server: { address: server.address, port: server.port }, method: r.method };
      if (r.other) details.otherAddress = formatEndpoint(r.other);
      if (r.method !== 'binding') return done(r.classification, found);
      fallback ??= done(r.classification, found); // keep looking for a server that can test behaviour
    }
    if (fallback) {
      details.elapsedMs = Math.round(clock() - started); // details is shared: later servers' tests are in it too
      return fallback;
    }
    if (!packetsLeft) details.notes.push('no request could be sent to any server');
    return done(packetsLeft ? BLOCKED : UNKNOWN);
  } catch (err) {
    addError(`discovery failed: ${(err as Error).message}`);
    return done(UNKNOWN);
  } finally {
    tx.cancelAll();
    socket.close();
  }
}

interface ServerResult {
  mapped: TransportAddress;
  other?: TransportAddress;
  method: NatDiscovery['method'];
  classification: Classification;
}

/** All tests against one server; undefined when it gave no usable answer to test I. */
async function probeServer(
  probe: Probe,
  target: TransportAddress,
  mode: 'auto' | 'rfc5780' | 'rfc3489',
  isLocal: (m: TransportAddress) => boolean,
  notes: string[],
): Promise<ServerResult | undefined> {
  let mapped: TransportAddress | undefined;
  if (mode !== 'rfc3489') {
    const t1 = await probe('binding', target);
    const m = successOf(t1);
    mapped = m && (m.xorMappedAddress ?? m.mappedAddress);
    const other = m?.otherAddress;
    if (mapped && other && usableAlternate(other, target)) {
      return { mapped, other, method: 'rfc5780', classification: await run5780(probe, target, other, mapped, isLocal(mapped), notes) };
    }
    if (mapped && mode === 'rfc5780') {
      notes.push(`${formatEndpoint(target)} sends no usable OTHER-ADDRESS`);
      return bindingOnly(mapped, isLocal(mapped));
    }
    if (!mapped && t1.kind === 'timeout') return undefined; // nothing answers there: no classic try either
  }
  const c1 = await probe('classic-I', target, { classic: true });
  const cm = successOf(c1);
  const changed = cm?.changedAddress;
  const classicMapped = cm?.mappedAddress;
  if (classicMapped && changed && usableAlternate(changed, target)) {
    return { mapped: classicMapped, other: changed, method: 'rfc3489', classification: await runClassic(probe, target, changed, classicMapped, isLocal(classicMapped), notes) };
  }
  const any = mapped ?? classicMapped;
  if (!any) return undefined;
  notes.push(`${formatEndpoint(target)} has no alternate address: only the mapped address is known`);
  return bindingOnly(any, isLocal(any));
}

function bindingOnly(mapped: TransportAddress, local: boolean): ServerResult {
  return { mapped, method: 'binding', classification: { ...UNKNOWN, mapping: local ? 'endpoint-independent' : 'unknown' } };
}

export function successOf(o: TransactionOutcome) {
  return o.kind === 'response' && o.message.cls === 'success' ? o.message : undefined;
}

/** An alternate address we can test against: same family, another IP. */
function usableAlternate(other: TransportAddress, target: TransportAddress): boolean {
  return other.family === target.family && other.address !== target.address && other.port !== 0;
}

function record(name: string, to: TransportAddress, spec: RequestSpec, o: TransactionOutcome): DiscoveryTest {
  const change: DiscoveryTest['change'] = spec.changeIp && spec.changePort ? 'ip+port' : spec.changeIp ? 'ip' : spec.changePort ? 'port' : undefined;
  const base = { name, to: formatEndpoint(to), classic: spec.classic === true, ...(change ? { change } : {}), attempts: o.attempts, ms: Math.round(o.ms) };
  if (o.kind === 'timeout') return { ...base, outcome: 'timeout' };
  const m = o.message;
  const mapped = m.xorMappedAddress ?? m.mappedAddress;
  return {
    ...base,
    outcome: m.cls === 'success' ? 'response' : 'error-response',
    from: formatEndpoint(o.from),
    ...(mapped ? { mapped: formatEndpoint(mapped) } : {}),
    ...(m.errorCode ? { errorCode: m.errorCode.code } : {}),
  };
}

function openSocket(v6: boolean, address: string | undefined, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    s.once('error', (err) => {
      try {
        s.close();
      } catch {
        // never bound
      }
      reject(err);
    });
    s.bind({ address, port, exclusive: true }, () => resolve(s));
  });
}

async function resolve(server: StunServerAddress, v6: boolean, addError: (e: string) => void): Promise<TransportAddress | undefined> {
  const port = server.port;
  if (typeof server.address !== 'string' || !Number.isInteger(port) || port < 1 || port > 0xffff) {
    addError(`invalid STUN server ${String(server.address)}:${String(port)}`);
    return undefined;
  }
  const family = isIP(server.address);
  if (family !== 0) {
    if ((family === 6) !== v6) addError(`STUN server ${server.address} is not of the local socket's address family`);
    return (family === 6) === v6 ? transportAddress(server.address, port) : undefined;
  }
  try {
    const { address } = await lookup(server.address, { family: v6 ? 6 : 4 });
    return transportAddress(address, port);
  } catch (err) {
    addError(`cannot resolve STUN server ${server.address}: ${(err as Error).message}`);
    return undefined;
  }
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}
