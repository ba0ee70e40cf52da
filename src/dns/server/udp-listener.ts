import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { QueryHandler } from './query-handler.js';

/** A UDP socket feeding one view's handler. Errors on one datagram never reach the socket or the process. */
export class UdpListener {
  private socket?: dgram.Socket;
  constructor(
    private readonly handler: QueryHandler,
    private readonly address: string,
    private readonly port: number,
    private readonly log: Logger,
  ) {}

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
    socket.on('error', (err) => this.log.error({ err }, 'udp socket error'));
    socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo));
    const bound = socket.address();
    return { address: bound.address, port: bound.port };
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let reply: ReturnType<QueryHandler['handle']>;
    try {
      reply = this.handler.handle(msg, 'udp', rinfo.address);
    } catch (err) {
      this.log.error({ err, client: rinfo.address }, 'query handling failed');
      return;
    }
    if (reply === undefined) return;
    if (!(reply instanceof Promise)) {
      socket.send(reply, rinfo.port, rinfo.address);
      return;
    }
    reply.then(
      (buf) => buf && this.socket === socket && socket.send(buf, rinfo.port, rinfo.address),
      (err) => this.log.error({ err, client: rinfo.address }, 'query handling failed'),
    );
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
