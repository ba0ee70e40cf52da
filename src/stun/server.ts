// STUN server (effects: dgram). One socket per (address, port) of its layout: the primary address and port,
// and with an alternate address and/or port the other combinations (four sockets with both), so that
// CHANGE-REQUEST is answered from the socket it asks for. Bad input is counted and logged, never fatal.
import dgram from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { formatEndpoint, transportAddress, type TransportAddress } from './address.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { decideReply, endpointOf, type ServerLayout, type Slot } from './server-reply.js';

const LIMIT_LOG_INTERVAL_MS = 10_000;

export interface StunServerOptions {
  /** primary address and port (port 0: any free port, read it back from endpoints()) */
  address: string;
  port: number;
  /** a second address of this host: enables change-IP, OTHER-ADDRESS / CHANGED-ADDRESS */
  alternateAddress?: string;
  /** a second port (0: any free port): enables change-port */
  alternatePort?: number;
  logger: Logger;
  /** SOFTWARE attribute in RFC 5389 answers (default 'realmgw'; '' for none) */
  software?: string;
  rateLimit?: Partial<RateLimitOptions>;
  /** clock for the rate limiter, in ms (default performance.now) */
  now?: () => number;
}

export interface StunServerStats {
  received: number;
  /** success responses sent (classic ones included) */
  answered: number;
  answeredClassic: number;
  /** success responses sent from another socket than the one the request came to (CHANGE-REQUEST) */
  answeredChanged: number;
  error400: number;
  error420: number;
  droppedMalformed: number;
  droppedBadFingerprint: number;
  /** responses and indications: never answered */
  droppedNotRequest: number;
  droppedRateLimited: number;
  sendFailed: number;
  /** source addresses the rate limiter tracks now */
  trackedSources: number;
}

export class StunServer {
  private readonly log: Logger;
  private readonly limiter: RateLimiter;
  private sockets: dgram.Socket[][] = [];
  private layoutNow: ServerLayout | undefined;
  private readonly counters: Omit<StunServerStats, 'trackedSources'> = {
    received: 0,
    answered: 0,
    answeredClassic: 0,
    answeredChanged: 0,
    error400: 0,
    error420: 0,
    droppedMalformed: 0,
    droppedBadFingerprint: 0,
    droppedNotRequest: 0,
    droppedRateLimited: 0,
    sendFailed: 0,
  };
  private lastDropLog: number | undefined;
  private lastLimitLog: number | undefined;
  private readonly now: () => number;

  /** Throws a TypeError for options that cannot make a server (caught at start-up, never per packet). */
  constructor(private readonly opts: StunServerOptions) {
    const { address, alternateAddress, port, alternatePort } = opts;
    const validPort = (p: number | undefined) => p === undefined || (Number.isInteger(p) && p >= 0 && p <= 0xffff);
    if (!isIP(address)) throw new TypeError(`STUN server address '${address}' is not an IP address`);
    if (alternateAddress !== undefined && (isIP(alternateAddress) !== isIP(address) || alternateAddress === address)) {
      throw new TypeError(`STUN alternate address '${alternateAddress}' must be another address of the same family as '${address}'`);
    }
    if (!validPort(port) || !validPort(alternatePort)) throw new TypeError('STUN server ports must be 0..65535');
    if (alternatePort !== undefined && alternatePort !== 0 && alternatePort === port) throw new TypeError('STUN alternate port must differ from the port');
    this.log = opts.logger.child({ component: 'stun-server' });
    this.now = opts.now ?? (() => performance.now());
    this.limiter = new RateLimiter(opts.rateLimit, this.now);
  }

  get stats(): StunServerStats {
    return { ...this.counters, trackedSources: this.limiter.size };
  }

  /** The sockets' bound addresses once started: [primary, other ports on the primary address..., alternate address...]. */
  endpoints(): TransportAddress[] {
    const l = this.layoutNow;
    if (!l) return [];
    return l.addresses.flatMap((_, ip) => l.ports.map((__, port) => endpointOf(l, { ip, port })));
  }

  /** Binds every socket; on any failure closes those already bound and rejects. */
  async start(): Promise<void> {
    if (this.layoutNow) throw new Error('STUN server already started');
    const { address, port, alternateAddress, alternatePort } = this.opts;
    const addresses = alternateAddress === undefined ? [address] : [address, alternateAddress];
    const rows: dgram.Socket[][] = addresses.map(() => []);
    this.sockets = rows;
    try {
      const ports: number[] = [];
      // each port is chosen on the primary address (0 picks a free one), then bound on the alternate address too
      for (const wanted of alternatePort === undefined ? [port] : [port, alternatePort]) {
        const p = await this.bind(rows[0]!, address, wanted);
        if (alternateAddress !== undefined) await this.bind(rows[1]!, alternateAddress, p);
        ports.push(p);
      }
      this.layoutNow = { addresses, ports };
    } catch (err) {
      await this.closeAll();
      throw err;
    }
    rows.forEach((row, ip) => row.forEach((s, p) => s.on('message', (msg, rinfo) => this.onPacket(msg, { ip, port: p }, rinfo))));
    this.log.info({ endpoints: this.endpoints().map(formatEndpoint) }, 'STUN server listening');
  }

  async stop(): Promise<void> {
    await this.closeAll();
    this.layoutNow = undefined;
  }

  private bind(row: dgram.Socket[], address: string, port: number): Promise<number> {
    const s = dgram.createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    row.push(s);
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(Object.assign(err, { message: `STUN server: cannot bind ${formatEndpoint({ address, port })}: ${err.message}` }));
      s.once('error', onError);
      s.bind({ address, port, exclusive: true }, () => {
        s.off('error', onError);
        s.on('error', (err) => this.log.warn({ err }, 'STUN socket error'));
        resolve(s.address().port);
      });
    });
  }

  private async closeAll(): Promise<void> {
    const all = this.sockets.flat();
    this.sockets = [];
    await Promise.all(all.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // never bound, or already closed
      }
    })));
  }

  private onPacket(msg: Buffer, at: Slot, rinfo: dgram.RemoteInfo): void {
    const c = this.counters;
    c.received++;
    const layout = this.layoutNow;
    if (!layout) return;
    const source = transportAddress(rinfo.address, rinfo.port);
    const peer = formatEndpoint(source);
    let d;
    try {
      d = decideReply(msg, at, source, layout, this.opts.software ?? 'realmgw');
    } catch (err) {
      // decode never throws; encoding our own answer should not either - but a packet must never crash us
      c.droppedMalformed++;
      this.log.error({ err, peer }, 'STUN: could not build an answer');
      return;
    }
    if (d.kind === 'drop') {
      if (d.reason === 'malformed') c.droppedMalformed++;
      else if (d.reason === 'bad-fingerprint') c.droppedBadFingerprint++;
      else c.droppedNotRequest++;
      // An operator must be able to see garbage arriving, but a flood of it must not become a log flood:
      // one info line per interval (with the totals), the rest at debug.
      const t = this.now();
      if (this.lastDropLog === undefined || t - this.lastDropLog >= LIMIT_LOG_INTERVAL_MS) {
        this.lastDropLog = t;
        this.log.info(
          { peer, reason: d.reason, detail: d.detail, droppedMalformed: c.droppedMalformed, droppedBadFingerprint: c.droppedBadFingerprint, droppedNotRequest: c.droppedNotRequest },
          'STUN packet dropped',
        );
      } else {
        this.log.debug({ peer, reason: d.reason, detail: d.detail }, 'STUN packet dropped');
      }
      return;
    }
    if (!this.limiter.allow(rinfo.address)) {
      c.droppedRateLimited++;
      // one warning per interval, whatever the number of sources: a flood must not become a log flood
      const t = this.now();
      if (this.lastLimitLog === undefined || t - this.lastLimitLog >= LIMIT_LOG_INTERVAL_MS) {
        this.log.warn({ peer: rinfo.address, droppedRateLimited: c.droppedRateLimited }, 'STUN: sources over their rate limit are not answered');
        this.lastLimitLog = t;
      }
      return;
    }
    if (d.errorCode === 400) c.error400++;
    else if (d.errorCode === 420) c.error420++;
    if (d.errorCode) this.log.debug({ peer, code: d.errorCode, detail: d.detail }, 'STUN request refused');
    const socket = this.sockets[d.from.ip]?.[d.from.port];
    if (!socket) return;
    const failed = (err: unknown) => {
      c.sendFailed++;
      this.log.debug({ err, peer }, 'STUN: answer not sent');
    };
    try {
      socket.send(d.bytes, rinfo.port, rinfo.address, (err) => {
        if (err) return failed(err);
        if (d.errorCode) return;
        c.answered++;
        if (d.classic) c.answeredClassic++;
        if (d.from.ip !== at.ip || d.from.port !== at.port) c.answeredChanged++;
      });
    } catch (err) {
      failed(err); // e.g. source port 0: dgram refuses it synchronously
    }
  }
}
