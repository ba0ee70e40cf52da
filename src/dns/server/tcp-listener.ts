import net from 'node:net';
import type { Logger } from 'pino';
import type { DnsMetrics } from '../metrics.js';
import type { QueryHandler } from './query-handler.js';

export interface TcpOptions {
  idleTimeoutMs: number;
  maxConnections: number;
  /** Queries answered concurrently per connection before we stop reading from it. */
  maxInFlight?: number;
}

/**
 * DNS over TCP (RFC 7766): two-byte length framing, any number of queries per connection, messages split
 * across reads or several in one read, answers sent as they are ready (possibly out of order), and an idle
 * timeout so a silent client cannot hold a connection.
 */
export class TcpListener {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly handler: QueryHandler,
    private readonly address: string,
    private readonly port: number,
    private readonly opts: TcpOptions,
    private readonly metrics: DnsMetrics,
    private readonly log: Logger,
  ) {}

  async start(): Promise<{ address: string; port: number }> {
    const server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
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

  private onConnection(socket: net.Socket): void {
    if (this.sockets.size >= this.opts.maxConnections) {
      this.metrics.tcpRejected++;
      socket.destroy();
      return;
    }
    this.metrics.tcpConnections++;
    this.sockets.add(socket);
    const client = socket.remoteAddress ?? '';
    const maxInFlight = this.opts.maxInFlight ?? 64;
    let pending = Buffer.alloc(0);
    let inFlight = 0;

    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));

    const write = (reply: Buffer | undefined) => {
      if (!reply || socket.destroyed) return;
      const frame = Buffer.allocUnsafe(2 + reply.length);
      frame.writeUInt16BE(reply.length, 0);
      reply.copy(frame, 2);
      socket.write(frame);
    };

    const settle = () => {
      inFlight--;
      if (socket.isPaused() && inFlight < maxInFlight) socket.resume();
    };

    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      while (pending.length - offset >= 2) {
        const len = pending.readUInt16BE(offset);
        if (len === 0) {
          socket.destroy(); // a zero-length message is not DNS: drop the connection, not the process
          return;
        }
        if (pending.length - offset - 2 < len) break;
        const msg = pending.subarray(offset + 2, offset + 2 + len);
        offset += 2 + len;
        let reply;
        try {
          reply = this.handler.handle(Buffer.from(msg), 'tcp', client);
        } catch (err) {
          this.log.error({ err, client }, 'query handling failed');
          continue;
        }
        if (reply instanceof Promise) {
          inFlight++;
          if (inFlight >= maxInFlight) socket.pause();
          reply.then(write, (err) => this.log.error({ err, client }, 'query handling failed')).finally(settle);
        } else write(reply);
      }
      pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
