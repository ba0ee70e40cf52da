/**
 * The opt-in TCP listener for Prometheus and health probes (`metrics.listen`). It serves /metrics, /healthz and
 * /readyz and nothing else: the admin API stays on its Unix socket, never on a network port. The config check
 * keeps it off the WAN addresses (config/metrics-check.ts); here it is bounded like anything reachable over a
 * network: a connection cap, a deadline for the request head and for the whole request, a small head, GET and
 * HEAD only.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import { RealmgwError } from '../errors/realmgw-error.js';
import type { MetricsRoutes } from './metrics-endpoint.js';
import { closeServer } from '../util/close-server.js';

export interface MetricsListenerOptions {
  address: string;
  port: number;
  routes: MetricsRoutes;
  log: Logger;
  /** Connections open at once; more are closed at accept (a scraper and a probe or two need a handful). */
  maxConnections?: number;
  /** The request head must arrive within this (slowloris); the whole request within twice it. */
  headersTimeoutMs?: number;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };

export class MetricsListener {
  private server?: http.Server;

  constructor(private readonly opts: MetricsListenerOptions) {}

  async start(): Promise<{ address: string; port: number }> {
    const { address, port, log } = this.opts;
    const headersTimeout = this.opts.headersTimeoutMs ?? 5000;
    const server = http.createServer(
      // The deadlines are checked every connectionsCheckingInterval: keep it below them.
      { headersTimeout, requestTimeout: 2 * headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout), maxHeaderSize: 8192, keepAliveTimeout: 5000 },
      (req, res) => this.answer(req, res),
    );
    server.maxConnections = this.opts.maxConnections ?? 16;
    // A malformed, oversized or too slow request head: closed without an answer (nothing written to such a peer).
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new RealmgwError('RGW_METRICS_LISTEN', { address: `${address}:${port}`, reason: err.code ?? err.message }, { cause: err })));
      server.listen({ host: address, port, exclusive: true }, () => resolve());
    });
    const bound = server.address() as { address: string; port: number };
    log.info({ address: bound.address, port: bound.port }, 'metrics listening (/metrics, /healthz, /readyz)');
    return { address: bound.address, port: bound.port };
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...TEXT, allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    const route = Object.hasOwn(this.opts.routes, path) ? this.opts.routes[path as keyof MetricsRoutes] : undefined;
    if (!route) {
      res.writeHead(404, TEXT).end('not found: only /metrics, /healthz and /readyz are served here\n');
      return;
    }
    route().then(
      (reply) => {
        res.writeHead(reply.status, { 'content-type': reply.contentType });
        res.end(req.method === 'HEAD' ? undefined : reply.body);
      },
      (err: unknown) => {
        this.opts.log.error({ err }, 'metrics route failed');
        res.writeHead(500, TEXT).end('internal error\n');
      },
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server);
  }
}
