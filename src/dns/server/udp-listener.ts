import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { ThrottledLog } from '../../log/throttle.js';
import type { DnsMetrics } from '../metrics.js';
import type { QueryHandling } from './query-handling.js';

export interface UdpOptions {
  /** Clients this listener answers; a datagram from anyone else is dropped before it is parsed. */
  allowClient?: (address: string) => boolean;
  /** Where refusals and handler errors are counted. */
  metrics?: DnsMetrics;
}

/**
 * A UDP socket feeding one view's handler. Errors on one datagram never reach the socket or the process, and
 * are logged at most once per kind per interval (a flood of bad packets is a count, not a log flood).
 */
export class UdpListener {
  private socket?: dgram.Socket;
  private readonly errors: ThrottledLog;

  constructor(
    private readonly handler: QueryHandling,
    private readonly address: string,
    private readonly port: number,
    private readonly log: Logger,
    private readonly opts: UdpOptions = {},
  ) {
    this.errors = new ThrottledLog(log, 10_000);
  }

  async start(): Promise<{ address: string; port: number }> {
    const socket = dgram.createSocket({ type: 'udp4' });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Bursts (a resolver farm, a benchmark) should queue in the kernel, not be dropped at the default 208 KiB.
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      /* capped by net.core.rmem_max; the default still works */
    }
    socket.on('error', (err) => this.errors.error('udp-socket', { err }, 'udp socket error'));
    socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo));
    const bound = socket.address();
    return { address: bound.address, port: bound.port };
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.opts.allowClient && !this.opts.allowClient(rinfo.address)) {
      if (this.opts.metrics) this.opts.metrics.clientNotAllowed++;
      return;
    }
    let reply: ReturnType<QueryHandling['handle']>;
    try {
      reply = this.handler.handle(msg, 'udp', rinfo.address);
    } catch (err) {
      this.failed(err, rinfo.address);
      return;
    }
    if (reply === undefined) return;
    if (!(reply instanceof Promise)) {
      this.send(socket, reply, rinfo);
      return;
    }
    reply.then(
      (buf) => buf && this.socket === socket && this.send(socket, buf, rinfo),
      (err) => this.failed(err, rinfo.address),
    );
  }

  /** A failed send (EPERM from a firewall, ENOBUFS) surfaces as the socket's 'error' event, logged throttled. */
  private send(socket: dgram.Socket, buf: Buffer, rinfo: dgram.RemoteInfo): void {
    socket.send(buf, rinfo.port, rinfo.address);
  }

  private failed(err: unknown, client: string): void {
    if (this.opts.metrics) this.opts.metrics.handlerErrors++;
    this.errors.error('udp-handler', { err, client }, 'query handling failed');
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.errors.flush();
  }
}
