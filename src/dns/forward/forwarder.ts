import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { ThrottledLog, type LogSink } from '../../log/throttle.js';

export interface Upstream {
  address: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  timeoutMs: number;
  attempts: number;
  /** Called for every try that got no usable reply (timeout, error, mismatched reply). */
  onFailedAttempt?: (upstream: Upstream) => void;
  /**
   * Queries being relayed at once, at most; each holds a socket and a timer until its upstream answers or
   * times out. Beyond it a query is refused at once (forward() gives undefined: the caller answers SERVFAIL).
   */
  maxInFlight?: number;
  /** Called for every query refused because maxInFlight were already being relayed. */
  onBusy?: () => void;
  /** Where failed tries are reported, at most once per upstream and kind per interval. */
  log?: LogSink;
}

export const DEFAULT_FORWARD_MAX_IN_FLIGHT = 1000;
/** The largest DNS message plus its TCP length prefix: an upstream sending more over TCP is cut off. */
const MAX_TCP_REPLY = 2 + 65535;

/**
 * Relays LAN queries for names outside our zones to the configured resolvers. Each try uses a fresh socket
 * (a random source port) and a random ID, and only a reply that matches ID and question is accepted, so an
 * off-path attacker has to guess both. TCP clients are relayed over TCP, so a large answer is never cut.
 */
export class Forwarder {
  private next = 0;
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly errors?: ThrottledLog;

  constructor(private readonly opts: ForwarderOptions) {
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_FORWARD_MAX_IN_FLIGHT;
    if (opts.log) this.errors = new ThrottledLog(opts.log, 10_000);
  }

  /** Queries being relayed now. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Returns the upstream's reply with the client's ID restored, or undefined when no upstream answered or
   * too many queries are already being relayed.
   */
  async forward(packet: Buffer, overTcp: boolean): Promise<Buffer | undefined> {
    if (this.opts.upstreams.length === 0) return undefined;
    if (this.inFlight >= this.maxInFlight) {
      this.opts.onBusy?.();
      return undefined;
    }
    this.inFlight++;
    try {
      return await this.relay(packet, overTcp);
    } finally {
      this.inFlight--;
    }
  }

  /** Flushes pending counts of throttled upstream failures to the log. */
  flushLog(): void {
    this.errors?.flush();
  }

  private async relay(packet: Buffer, overTcp: boolean): Promise<Buffer | undefined> {
    const clientId = packet.readUInt16BE(0);
    let question: dnsPacket.Question | undefined;
    try {
      question = dnsPacket.decode(packet).questions?.[0];
    } catch {
      return undefined;
    }
    if (!question) return undefined;
    for (let attempt = 0; attempt < this.opts.attempts; attempt++) {
      const upstream = this.opts.upstreams[this.next++ % this.opts.upstreams.length];
      const id = randomInt(0, 65536);
      const out = Buffer.from(packet);
      out.writeUInt16BE(id, 0);
      try {
        const reply = overTcp ? await this.viaTcp(out, upstream) : await this.viaUdp(out, upstream, id, question);
        if (!reply || !matches(reply, id, question)) {
          this.failed(upstream, overTcp, 'no usable reply');
          continue;
        }
        reply.writeUInt16BE(clientId, 0);
        return reply;
      } catch (err) {
        this.failed(upstream, overTcp, 'error', err); // and try the next upstream
      }
    }
    return undefined;
  }

  private failed(upstream: Upstream, overTcp: boolean, what: string, err?: unknown): void {
    this.opts.onFailedAttempt?.(upstream);
    const where = `${upstream.address}:${upstream.port}`;
    this.errors?.error(`forward ${what} ${where} ${overTcp ? 'tcp' : 'udp'}`, { upstream: where, tcp: overTcp, err }, `upstream gave ${what}`);
  }

  private viaUdp(out: Buffer, upstream: Upstream, id: number, question: dnsPacket.Question): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      const done = (reply?: Buffer) => {
        clearTimeout(timer);
        socket.close();
        resolve(reply);
      };
      const timer = setTimeout(() => done(undefined), this.opts.timeoutMs);
      socket.on('error', () => done(undefined));
      socket.on('message', (msg, rinfo) => {
        // Ignore strays and spoofs; keep waiting for the real reply until the timer fires.
        if (rinfo.address !== upstream.address || rinfo.port !== upstream.port) return;
        if (matches(msg, id, question)) done(msg);
      });
      socket.send(out, upstream.port, upstream.address, (err) => err && done(undefined));
    });
  }

  private viaTcp(out: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: upstream.address, port: upstream.port });
      let buf = Buffer.alloc(0);
      const done = (reply?: Buffer) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      };
      const timer = setTimeout(() => done(undefined), this.opts.timeoutMs);
      socket.on('error', () => done(undefined));
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        socket.write(Buffer.concat([len, out]));
      });
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length > MAX_TCP_REPLY) return done(undefined);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      socket.on('end', () => done(undefined));
    });
  }
}

function matches(reply: Buffer, id: number, question: dnsPacket.Question): boolean {
  try {
    if (reply.length < 12 || reply.readUInt16BE(0) !== id || !(reply.readUInt16BE(2) & 0x8000)) return false;
    const q = dnsPacket.decode(reply).questions?.[0];
    return !!q && q.name.toLowerCase() === question.name.toLowerCase() && q.type === question.type && q.class === question.class;
  } catch {
    return false;
  }
}
