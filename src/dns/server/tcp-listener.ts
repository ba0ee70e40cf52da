import net from 'node:net';
import type { Logger } from 'pino';
import { ThrottledLog } from '../../log/throttle.js';
import type { DnsMetrics } from '../metrics.js';
import type { QueryHandling } from './query-handling.js';

export interface TcpOptions {
  /** A connection without traffic either way for this long is closed. */
  idleTimeoutMs: number;
  maxConnections: number;
  /** Queries answered concurrently per connection (forwards, TCP retries) before we stop reading from it. */
  maxInFlight?: number;
  /** Connections one source address may hold; beyond it new ones are closed at once (others are still served). */
  maxConnectionsPerSource?: number;
  /** A connection is closed this long after it opened, busy or not (RFC 7766 §6.2.3): no one holds a slot forever. */
  maxLifetimeMs?: number;
  /**
   * Answers written but not yet taken by the client, in bytes, at which we stop reading its queries; reading
   * resumes on 'drain'. A client that pipelines and never reads therefore costs at most this plus one answer,
   * plus the answers still in flight (maxInFlight) when it stopped.
   */
  maxQueuedBytes?: number;
  /** Clients this listener answers; a connection from anyone else is closed before a byte is read. */
  allowClient?: (address: string) => boolean;
}

export const TCP_DEFAULTS = { maxInFlight: 64, maxConnectionsPerSource: 16, maxLifetimeMs: 120_000, maxQueuedBytes: 65_536 } as const;

/** One open connection as the listener sees it; for tests and diagnostics. */
export interface TcpConnectionState {
  remoteAddress: string;
  /** Answer bytes written to the socket that the kernel has not taken yet. */
  queuedBytes: number;
  /** Query bytes received and not handled yet (held while reading is paused). */
  unhandledBytes: number;
  inFlight: number;
  readingPaused: boolean;
}

type Limits = Required<Omit<TcpOptions, 'allowClient'>>;

/**
 * DNS over TCP (RFC 7766): two-byte length framing, any number of queries per connection, messages split
 * across reads or several in one read, answers sent as they are ready (possibly out of order). Every resource
 * a client can make us spend is bounded: connections (in all and per source address), their idle time and
 * lifetime, queries in flight and answer bytes queued per connection.
 */
export class TcpListener {
  private server?: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly perSource = new Map<string, number>();
  private readonly limits: Limits;
  private readonly errors: ThrottledLog;

  constructor(
    private readonly handler: QueryHandling,
    private readonly address: string,
    private readonly port: number,
    private readonly opts: TcpOptions,
    private readonly metrics: DnsMetrics,
    private readonly log: Logger,
  ) {
    this.limits = { ...TCP_DEFAULTS, ...withoutUndefined(opts) } as Limits;
    this.errors = new ThrottledLog(log, 10_000);
  }

  async start(): Promise<{ address: string; port: number }> {
    // Reading resumes on 'drain', which only comes after a write returned false, i.e. reached the high-water
    // mark: keep that mark at or below our bound so a connection paused at the bound always gets its 'drain'.
    const highWaterMark = Math.min(16_384, this.limits.maxQueuedBytes);
    const server = net.createServer({ noDelay: true, highWaterMark }, (socket) => this.onConnection(socket));
    this.server = server;
    server.on('error', (err) => this.log.error({ err }, 'tcp server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.address, port: this.port, backlog: 511 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as net.AddressInfo;
    return { address: bound.address, port: bound.port };
  }

  /** The open connections and what each holds. */
  states(): TcpConnectionState[] {
    return [...this.connections].map((c) => c.state());
  }

  private onConnection(socket: net.Socket): void {
    const client = socket.remoteAddress ?? '';
    if (this.opts.allowClient && !this.opts.allowClient(client)) {
      this.metrics.clientNotAllowed++;
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.limits.maxConnections) {
      this.metrics.tcpRejected++;
      socket.destroy();
      return;
    }
    const fromSource = this.perSource.get(client) ?? 0;
    if (fromSource >= this.limits.maxConnectionsPerSource) {
      this.metrics.tcpRejectedPerSource++;
      socket.destroy();
      return;
    }
    this.perSource.set(client, fromSource + 1);
    this.metrics.tcpConnections++;
    const conn = new Connection(socket, client, this.handler, this.limits, this.metrics, this.errors);
    this.connections.add(conn);
    socket.on('close', () => {
      this.connections.delete(conn);
      const n = (this.perSource.get(client) ?? 1) - 1;
      if (n > 0) this.perSource.set(client, n);
      else this.perSource.delete(client);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.connections) c.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.errors.flush();
  }
}

/** One client connection: framing, the read/answer loop and its bounds. */
class Connection {
  /** Received bytes not handled yet; at most one read's worth plus one partial message while reading is paused. */
  private pending: Buffer = Buffer.alloc(0);
  private inFlight = 0;
  private paused = false;
  private closing = false;
  private readonly lifetime: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    private readonly client: string,
    private readonly handler: QueryHandling,
    private readonly limits: Limits,
    private readonly metrics: DnsMetrics,
    private readonly errors: ThrottledLog,
  ) {
    socket.setTimeout(limits.idleTimeoutMs, () => {
      metrics.tcpIdleClosed++;
      socket.destroy();
    });
    this.lifetime = setTimeout(() => this.retire(), limits.maxLifetimeMs);
    this.lifetime.unref();
    socket.on('error', () => socket.destroy()); // resets and the like: nothing to report, the peer is gone
    socket.on('close', () => clearTimeout(this.lifetime));
    socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.work();
    });
    socket.on('drain', () => this.work());
  }

  state(): TcpConnectionState {
    return {
      remoteAddress: this.client,
      queuedBytes: this.socket.writableLength,
      unhandledBytes: this.pending.length,
      inFlight: this.inFlight,
      readingPaused: this.paused,
    };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private backlogged(): boolean {
    return this.socket.writableLength >= this.limits.maxQueuedBytes;
  }

  private blocked(): boolean {
    return this.closing || this.inFlight >= this.limits.maxInFlight || this.backlogged();
  }

  /** Handles complete messages while the bounds allow, then stops or restarts reading to match. */
  private work(): void {
    let offset = 0;
    const buf = this.pending;
    while (!this.blocked() && buf.length - offset >= 2) {
      const len = buf.readUInt16BE(offset);
      if (len === 0) {
        this.metrics.tcpFramingErrors++;
        this.socket.destroy(); // a zero-length message is not DNS: drop the connection, not the process
        return;
      }
      if (buf.length - offset - 2 < len) break;
      const msg = Buffer.from(buf.subarray(offset + 2, offset + 2 + len));
      offset += 2 + len;
      this.handle(msg);
    }
    if (offset > 0) this.pending = offset === buf.length ? Buffer.alloc(0) : buf.subarray(offset);
    if (this.socket.destroyed) return;
    if (this.closing) {
      // Answers still being worked out are let out before the close; then FIN after the queued bytes.
      if (this.inFlight === 0 && !this.socket.writableEnded) this.socket.end();
      if (!this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    if (this.blocked()) {
      if (!this.paused) {
        this.paused = true;
        if (this.backlogged()) this.metrics.tcpPausedForBacklog++;
        this.socket.pause();
      }
    } else if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private handle(msg: Buffer): void {
    let reply: ReturnType<QueryHandling['handle']>;
    try {
      reply = this.handler.handle(msg, 'tcp', this.client);
    } catch (err) {
      this.metrics.handlerErrors++;
      this.errors.error('tcp-handler', { err, client: this.client }, 'query handling failed');
      return;
    }
    if (!(reply instanceof Promise)) {
      this.write(reply);
      return;
    }
    this.inFlight++;
    reply
      .then(
        (r) => this.write(r),
        (err) => {
          this.metrics.handlerErrors++;
          this.errors.error('tcp-handler', { err, client: this.client }, 'query handling failed');
        },
      )
      .finally(() => {
        this.inFlight--;
        this.work();
      });
  }

  private write(reply: Buffer | undefined): void {
    if (!reply || this.socket.destroyed || this.socket.writableEnded) return;
    const frame = Buffer.allocUnsafe(2 + reply.length);
    frame.writeUInt16BE(reply.length, 0);
    reply.copy(frame, 2);
    this.socket.write(frame);
  }

  /**
   * At the end of its lifetime: stop reading, let the answers in flight and queued go, then close. A client
   * that does not take them is cut off by the idle timeout.
   */
  private retire(): void {
    this.metrics.tcpLifetimeClosed++;
    this.closing = true;
    this.work();
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
