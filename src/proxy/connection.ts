// One client connection through the relay: read the head (bounded in size and time), ask the resolver where
// the name lives, connect there and nowhere else (bounded in time), then splice. Every way out of the head
// and connect phases is a counted refusal with, where the protocol has one, an answer the client understands.
import net, { type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ThrottledLog } from '../log/throttle.js';
import { proxyV2Header } from './proxy-v2.js';
import { HeadSniffer, type ListenerKind, type RefusalReason } from './sniff.js';
import { splice, type SpliceCounters } from './splice.js';

export interface UpstreamTarget {
  /** an IP literal: the relay never resolves names, so it cannot be steered by DNS */
  address: string;
  /** default: the port the client connected to */
  port?: number;
  /** send a PROXY protocol v2 header first */
  proxyProtocol?: boolean;
}

/** name (canonical: lower case, no trailing dot) -> where it lives, or undefined when it is not ours to relay. */
export type UpstreamResolver = (name: string, via: { kind: ListenerKind; port: number }) => UpstreamTarget | undefined;

export interface ConnectionLimits {
  maxHeaderBytes: number;
  headerTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** how long a refused client may stay to read its answer before the connection is destroyed */
  lingerMs: number;
}

/** What every connection shares with the relay that accepted it. */
export interface ConnectionContext {
  limits: ConnectionLimits;
  resolve: UpstreamResolver;
  /** false when the target is one of the relay's own listeners (a loop) */
  isAllowedTarget(address: string, port: number): boolean;
  upstreamLocalAddress: string | undefined;
  log: Logger;
  errors: ThrottledLog;
  counters: SpliceCounters;
  refused(reason: RefusalReason): void;
  relayed(kind: ListenerKind): void;
  abandoned(): void;
  idleClosed(): void;
}

export class RelayConnection {
  private readonly sniffer: HeadSniffer;
  private timer: NodeJS.Timeout | undefined;
  private upstream: Socket | undefined;
  private phase: 'head' | 'connecting' | 'relaying' | 'refused' = 'head';
  /** sockets not yet closed: the slot is released when both are */
  private open = 1;

  constructor(
    private readonly client: Socket,
    private readonly kind: ListenerKind,
    private readonly ctx: ConnectionContext,
    /** called once, when the client socket and the upstream socket (if any) have both closed */
    private readonly onClosed: () => void,
  ) {
    this.sniffer = new HeadSniffer(kind, ctx.limits.maxHeaderBytes);
    // a slow-loris client gets headerTimeoutMs from accept, however it paces its bytes
    this.timer = setTimeout(() => this.refuse('headerTimeout'), ctx.limits.headerTimeoutMs);
    client.on('data', this.onHead);
    client.on('end', this.onEarlyEnd);
    client.on('error', this.onEarlyError);
    client.once('close', this.onSocketClosed);
  }

  /** Stops the connection whatever its phase (relay shutdown). */
  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  private readonly onSocketClosed = () => {
    clearTimeout(this.timer);
    if (this.phase === 'head' || this.phase === 'connecting') this.ctx.abandoned();
    // before the splice, nothing else ends the upstream when the client goes away
    if (this.phase !== 'relaying') this.upstream?.destroy();
    if (--this.open === 0) this.onClosed();
  };

  /** The client finished sending before its head was complete: nothing to route. */
  private readonly onEarlyEnd = () => {
    if (this.phase === 'head') this.client.destroy();
  };

  private readonly onEarlyError = (err: Error) => {
    this.ctx.log.debug({ err: err.message, phase: this.phase }, 'relay: client error before relaying');
    this.destroy();
  };

  private readonly onHead = (chunk: Buffer) => {
    if (this.phase !== 'head') return;
    const r = this.sniffer.push(chunk);
    if (r.kind === 'pending') return;
    if (r.kind === 'refuse') {
      this.ctx.log.debug({ kind: this.kind, reason: r.reason, detail: r.detail }, 'relay: refused');
      this.refuse(r.reason);
      return;
    }
    if (r.name === undefined) {
      this.refuse('noName');
      return;
    }
    this.route(r.name);
  };

  private route(name: string): void {
    const port = this.client.localPort ?? 0;
    let target: UpstreamTarget | undefined;
    try {
      target = this.ctx.resolve(name, { kind: this.kind, port });
    } catch (err) {
      this.ctx.errors.error('resolver', { err, name }, 'relay: the resolver threw; the name is refused');
    }
    if (!target) {
      this.ctx.log.debug({ kind: this.kind, name }, 'relay: unknown name');
      this.refuse('unknownName');
      return;
    }
    const targetPort = target.port ?? port;
    if (net.isIP(target.address) === 0 || !Number.isInteger(targetPort) || targetPort < 1 || targetPort > 0xffff) {
      this.ctx.errors.error('target', { name, target }, 'relay: the resolver gave a target that is not an IP address and port; refused');
      this.refuse('upstreamFailed');
      return;
    }
    if (!this.ctx.isAllowedTarget(target.address, targetPort)) {
      this.ctx.errors.error('loop', { name, target }, 'relay: the target is the relay itself; refused');
      this.refuse('upstreamFailed');
      return;
    }
    this.connect(name, target.address, targetPort, target.proxyProtocol === true);
  }

  private connect(name: string, address: string, port: number, proxyProtocol: boolean): void {
    this.phase = 'connecting';
    clearTimeout(this.timer);
    // until the upstream is there, the client's further bytes wait in the kernel, not in our memory
    this.client.pause();
    this.client.off('data', this.onHead);
    const upstream = net.connect({ host: address, port, allowHalfOpen: true, localAddress: this.ctx.upstreamLocalAddress });
    this.upstream = upstream;
    this.open++;
    upstream.once('close', () => {
      if (--this.open === 0) this.onClosed();
    });
    this.timer = setTimeout(() => {
      upstream.destroy();
      this.ctx.errors.error('upstream-timeout', { name, address, port }, 'relay: upstream connect timed out');
      this.refuse('upstreamTimeout');
    }, this.ctx.limits.connectTimeoutMs);
    const onConnectError = (err: Error) => {
      clearTimeout(this.timer);
      this.ctx.errors.error('upstream-connect', { err: err.message, name, address, port }, 'relay: upstream connect failed');
      this.refuse('upstreamFailed');
    };
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      clearTimeout(this.timer);
      this.phase = 'relaying';
      upstream.off('error', onConnectError);
      this.client.off('end', this.onEarlyEnd);
      this.client.off('error', this.onEarlyError);
      const initial = [this.sniffer.bytes];
      if (proxyProtocol) {
        const source = { address: this.client.remoteAddress ?? '', port: this.client.remotePort ?? 0 };
        const destination = { address: this.client.localAddress ?? '', port: this.client.localPort ?? 0 };
        initial.unshift(proxyV2Header(source, destination));
      }
      this.ctx.relayed(this.kind);
      splice(this.client, upstream, initial, {
        counters: this.ctx.counters,
        idleTimeoutMs: this.ctx.limits.idleTimeoutMs,
        onIdle: () => this.ctx.idleClosed(),
        onError: (side, err) => {
          // a client going away mid-stream is ordinary; an upstream failing is worth an operator's eye
          if (side === 'upstream') this.ctx.errors.error('upstream-stream', { err: err.message, name }, 'relay: upstream connection error');
          else this.ctx.log.debug({ err: err.message }, 'relay: client connection error');
        },
      });
    });
  }

  /**
   * Ends the connection unrelayed. With an answer to give, it is written and the client may read it while
   * its own further bytes are discarded (closing with unread bytes would reset the connection and could
   * lose the answer); lingerMs bounds that.
   */
  private refuse(reason: RefusalReason): void {
    if (this.phase !== 'head' && this.phase !== 'connecting') return;
    this.phase = 'refused';
    clearTimeout(this.timer);
    this.ctx.refused(reason);
    const answer = this.sniffer.refusal(reason);
    if (!answer || this.client.destroyed) {
      this.client.destroy();
      return;
    }
    this.client.off('data', this.onHead);
    this.client.on('data', () => {});
    // the client's FIN may arrive before the answer left our buffer: destroying then would drop the answer
    this.client.on('end', () => (this.client.writableFinished ? this.client.destroy() : this.client.once('finish', () => this.client.destroy())));
    this.client.resume();
    this.client.end(answer);
    this.timer = setTimeout(() => this.client.destroy(), this.ctx.limits.lingerMs);
  }
}
