// The relay for proxy_required names: TCP listeners (HTTP routed by Host, TLS by SNI), each accepted
// connection admitted against the caps and handed to a RelayConnection. What it may connect to is decided
// only by the resolver it is given; its limits are explicit options with defaults sized for a small gateway.
import net from 'node:net';
import type { Logger } from 'pino';
import { ThrottledLog } from '../log/throttle.js';
import { Admission, sourceKey } from './admission.js';
import { RelayConnection, type ConnectionContext, type ConnectionLimits, type UpstreamResolver } from './connection.js';
import type { ListenerKind, RefusalReason } from './sniff.js';
import type { SpliceCounters } from './splice.js';

export interface RelayListener {
  address: string;
  /** 0: any free port (read it back from endpoints()) */
  port: number;
  kind: ListenerKind;
}

export interface RelayLimits extends ConnectionLimits {
  /** connections held at once, over all listeners and in every phase */
  maxConnections: number;
  /** connections one source (IPv4 address, IPv6 /64) may hold at once */
  maxPerSource: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxHeaderBytes: 16 * 1024,
  headerTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  lingerMs: 2_000,
  maxConnections: 1024,
  maxPerSource: 32,
};

export interface ProxyRelayOptions {
  listeners: RelayListener[];
  resolve: UpstreamResolver;
  logger: Logger;
  limits?: Partial<RelayLimits>;
  /** source address of upstream connections (default: the kernel picks by route) */
  upstreamLocalAddress?: string;
  /** at most one error line per kind per interval (default 10 s) */
  errorLogIntervalMs?: number;
}

export interface RelayStats {
  accepted: number;
  /** connections holding a slot now (head, connect and relay phases, and refused ones still lingering) */
  active: number;
  /** sources holding at least one slot */
  sources: number;
  relayed: Record<ListenerKind, number>;
  refused: Record<RefusalReason, number>;
  /** the client went away before its connection was relayed or refused */
  abandoned: number;
  idleClosed: number;
  bytes: { toUpstream: number; toClient: number };
  /** the largest write buffer the relay has held on one socket: backpressure made observable */
  peakBuffered: number;
}

const REFUSAL_REASONS: RefusalReason[] = [
  'connectionCap',
  'sourceCap',
  'headerTimeout',
  'oversized',
  'malformed',
  'noName',
  'unknownName',
  'upstreamFailed',
  'upstreamTimeout',
];

export class ProxyRelay {
  private readonly log: Logger;
  private readonly errors: ThrottledLog;
  private readonly limits: RelayLimits;
  private readonly admission: Admission;
  private servers: { server: net.Server; kind: ListenerKind }[] = [];
  private readonly connections = new Set<RelayConnection>();
  private readonly context: ConnectionContext;
  private readonly counters: SpliceCounters = { toUpstream: 0, toClient: 0, peakBuffered: 0 };
  private readonly tally = {
    accepted: 0,
    relayed: { http: 0, tls: 0 } as Record<ListenerKind, number>,
    refused: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
    abandoned: 0,
    idleClosed: 0,
  };

  /** Throws a TypeError for options that cannot make a relay (at start-up, never per connection). */
  constructor(private readonly opts: ProxyRelayOptions) {
    this.limits = { ...DEFAULT_RELAY_LIMITS, ...opts.limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 1) throw new TypeError(`relay limit ${k} must be a positive integer (got ${v})`);
    }
    if (opts.listeners.length === 0) throw new TypeError('relay needs at least one listener');
    for (const l of opts.listeners) {
      if (net.isIP(l.address) === 0) throw new TypeError(`relay listener address '${l.address}' is not an IP address`);
      if (!Number.isInteger(l.port) || l.port < 0 || l.port > 0xffff) throw new TypeError(`relay listener port ${l.port} is not 0..65535`);
      if (l.kind !== 'http' && l.kind !== 'tls') throw new TypeError(`relay listener kind '${String(l.kind)}' is not http or tls`);
    }
    if (opts.upstreamLocalAddress !== undefined && net.isIP(opts.upstreamLocalAddress) === 0) {
      throw new TypeError(`relay upstreamLocalAddress '${opts.upstreamLocalAddress}' is not an IP address`);
    }
    this.log = opts.logger.child({ component: 'proxy-relay' });
    this.errors = new ThrottledLog(this.log, opts.errorLogIntervalMs ?? 10_000);
    this.admission = new Admission(this.limits.maxConnections, this.limits.maxPerSource);
    const t = this.tally;
    this.context = {
      limits: this.limits,
      resolve: opts.resolve,
      isAllowedTarget: (address, port) => !this.endpoints().some((e) => e.port === port && (e.address === address || isUnspecified(e.address))),
      upstreamLocalAddress: opts.upstreamLocalAddress,
      log: this.log,
      errors: this.errors,
      counters: this.counters,
      refused: (reason) => void t.refused[reason]++,
      relayed: (kind) => void t.relayed[kind]++,
      abandoned: () => void t.abandoned++,
      idleClosed: () => void t.idleClosed++,
    };
  }

  get stats(): RelayStats {
    return {
      accepted: this.tally.accepted,
      active: this.admission.active,
      sources: this.admission.sources,
      relayed: { ...this.tally.relayed },
      refused: { ...this.tally.refused },
      abandoned: this.tally.abandoned,
      idleClosed: this.tally.idleClosed,
      bytes: { toUpstream: this.counters.toUpstream, toClient: this.counters.toClient },
      peakBuffered: this.counters.peakBuffered,
    };
  }

  /** Bound listeners once started, in the order given. */
  endpoints(): { address: string; port: number; kind: ListenerKind }[] {
    return this.servers.flatMap(({ server, kind }) => {
      const a = server.address();
      return a && typeof a === 'object' ? [{ address: a.address, port: a.port, kind }] : [];
    });
  }

  /** Binds every listener; on any failure closes those already bound and rejects. */
  async start(): Promise<void> {
    if (this.servers.length > 0) throw new Error('relay already started');
    try {
      for (const l of this.opts.listeners) await this.listen(l);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ endpoints: this.endpoints() }, 'relay listening');
  }

  /** Closes the listeners and every connection (relayed ones included), then writes pending error counts. */
  async stop(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    const closed = servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const c of this.connections) c.destroy();
    await Promise.all(closed);
    this.errors.flush();
  }

  private listen(l: RelayListener): Promise<void> {
    // allowHalfOpen: a client's FIN must reach the upstream as a FIN, not end our side toward the client
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.onConnection(socket, l.kind));
    this.servers.push({ server, kind: l.kind });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.address, port: l.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.errors.error('listener', { err: err.message }, 'relay: listener error'));
        resolve();
      });
    });
  }

  private onConnection(socket: net.Socket, kind: ListenerKind): void {
    this.tally.accepted++;
    const source = sourceKey(socket.remoteAddress);
    const refusal = this.admission.admit(source);
    if (refusal) {
      this.tally.refused[refusal]++;
      // a reset frees both ends at once: no answer to give, and no TIME_WAIT left here by a flood
      socket.on('error', () => {});
      socket.resetAndDestroy();
      return;
    }
    const conn = new RelayConnection(socket, kind, this.context, () => {
      this.connections.delete(conn);
      this.admission.release(source);
    });
    this.connections.add(conn);
  }
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}
