import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { TextReply } from './text-reply.js';
import { closeServer } from '../util/close-server.js';

/** A route's answer (JSON, or a TextReply sent as it is), or a promise of it. */
export type Route = () => unknown;

/**
 * Admin API on a Unix socket: GET routes read, POST actions (reload) act. A Unix socket is reachable from the host namespace whatever network
 * namespace the gateway runs in, and file permissions (0600, root) stand in for authentication: nothing of the
 * control plane is ever exposed on a network port (Realm Gateway's UDP control port reached a shell).
 */
export class AdminServer {
  private server?: http.Server;

  constructor(
    private readonly socketPath: string,
    private readonly routes: { [path: string]: Route },
    private readonly log: Logger,
    /** Actions (POST): the one thing the socket changes, e.g. /reload. */
    private readonly actions: { [path: string]: Route } = {},
  ) {}

  async start(): Promise<void> {
    mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o700 });
    await this.removeStaleSocket();
    const server = http.createServer((req, res) => {
      const url = (req.url ?? '').split('?')[0];
      const table = req.method === 'GET' ? this.routes : req.method === 'POST' ? this.actions : undefined;
      const route = table && Object.hasOwn(table, url) ? table[url] : undefined;
      if (!route) {
        const known = Object.hasOwn(this.routes, url) || Object.hasOwn(this.actions, url);
        res.writeHead(known ? 405 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: known ? 'method not allowed' : 'no such resource', routes: Object.keys(this.routes), actions: Object.keys(this.actions) }));
        req.resume();
        return;
      }
      req.resume(); // a POST's body carries nothing: the action reads the files the gateway was started with
      // A route may answer later (e.g. reading kernel counters first).
      Promise.resolve()
        .then(() => route())
        .then(
          (result) => {
            if (result instanceof TextReply) {
              res.writeHead(result.status, { 'content-type': result.contentType });
              res.end(result.body);
              return;
            }
            const body = JSON.stringify(result, null, 2);
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(body + '\n');
          },
          (err: unknown) => {
            this.log.error({ err }, 'admin route failed');
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: (err as Error).message }));
          },
        );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.socketPath, 0o600);
  }

  /** A socket file left by a killed gateway is removed; one that still answers belongs to a live gateway. */
  private async removeStaleSocket(): Promise<void> {
    if (!existsSync(this.socketPath)) return;
    if (!statSync(this.socketPath).isSocket()) throw new Error(`${this.socketPath} exists and is not a socket`);
    const alive = await new Promise<boolean>((resolve) => {
      const c = net.connect(this.socketPath);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (alive) throw new Error(`another gateway is serving ${this.socketPath}`);
    unlinkSync(this.socketPath);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server);
    try {
      unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }
}
