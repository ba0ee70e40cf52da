/**
 * The registration API (HTTP/1.1 + JSON, node:http) on the gateway's private-network address. The address a
 * registration maps to is the TCP peer of the request, never anything the body says. Every refusal is one
 * warn line and changes nothing; garbage of any kind is a 4xx, never a crash. Secrets are never logged or
 * echoed: the Authorization header is read once and handed to the service, and nothing else sees it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { WorkersService, ServiceOutcome } from '../service.js';
import { closeServer } from '../../util/close-server.js';
import {
  type ErrorBody,
  MAX_BODY_BYTES,
  type Route,
  type WireErrorCode,
  bearerSecret,
  checkNatSummary,
  leasesBody,
  parseRoute,
  statusOf,
  wireCode,
  wireMessage,
} from './protocol.js';

export interface WorkersApiServerOptions {
  address: string;
  /** 0: any free port (read it back from endpoint()). */
  port: number;
  service: WorkersService;
  log: Logger;
  /** Whole request, headers and body (default 10 s): a slow client cannot hold a socket for long. */
  requestTimeoutMs?: number;
  maxBodyBytes?: number;
}

class Refused extends Error {
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class WorkersApiServer {
  private server: http.Server | undefined;
  private readonly log: Logger;
  private readonly maxBody: number;

  constructor(private readonly opts: WorkersApiServerOptions) {
    this.log = opts.log.child({ component: 'workers-api' });
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  }

  async start(): Promise<void> {
    const timeout = this.opts.requestTimeoutMs ?? 10_000;
    const server = http.createServer({ requestTimeout: timeout, headersTimeout: timeout, maxHeaderSize: 8192, keepAliveTimeout: 5000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'workers API request failed');
        if (!res.headersSent) send(res, 500, { error: 'unavailable', message: 'internal error' });
        else res.destroy();
      });
    });
    // A malformed request line or headers: node answers 400 itself when it can; never let it reach 'error'.
    server.on('clientError', (err, socket) => {
      this.log.warn({ code: (err as NodeJS.ErrnoException).code, peer: (socket as { remoteAddress?: string }).remoteAddress }, 'workers API: malformed HTTP refused');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.log.info({ endpoint: this.endpoint() }, 'workers API listening');
  }

  endpoint(): { address: string; port: number } {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('workers API server is not listening');
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = req.socket.remoteAddress ?? '';
    const route = parseRoute(req.method, req.url);
    if ('error' in route) {
      req.resume();
      return this.refuse(res, peer, undefined, route.error, `${req.method} ${clipPath(req.url)} is not part of the workers API`);
    }
    let outcome: ServiceOutcome;
    try {
      outcome = await this.serve(req, route, peer);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      return this.refuse(res, peer, route, err.code, err.message);
    }
    if (!outcome.ok) return this.refuse(res, peer, route, wireCode(outcome.code), outcome.message, outcome.code);
    const s = this.opts.service;
    send(res, 200, leasesBody(outcome.worker, outcome.address, s.publicAddress, s.heartbeatMs, outcome.leases));
  }

  private async serve(req: http.IncomingMessage, route: Route, peer: string): Promise<ServiceOutcome> {
    const secret = bearerSecret(req.headers.authorization);
    const body = await this.readBody(req);
    if (secret === undefined) throw new Refused('unauthorized', 'missing or malformed Authorization: Bearer header');
    const service = this.opts.service;
    if (route.action === 'deregister') return service.deregister(route.worker, secret);
    if (route.action === 'heartbeat') return service.heartbeat(route.worker, secret, { address: peer });
    const doc = parseJson(body);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Refused('bad-request', 'the body must be a JSON object {services, nat?}');
    const unknown = Object.keys(doc).filter((k) => k !== 'services' && k !== 'nat');
    if (unknown.length > 0) throw new Refused('bad-request', `unknown key ${JSON.stringify(unknown[0].slice(0, 32))} in the body`);
    const nat = checkNatSummary((doc as { nat?: unknown }).nat);
    if (nat !== undefined && 'reason' in nat) throw new Refused('bad-request', nat.reason);
    // The registry checks the services themselves (shape, ports, duplicates) and refuses with a reason.
    return service.register(route.worker, secret, { address: peer }, (doc as { services: never }).services, nat);
  }

  /** The body as text, refused past the size limit without buffering it. */
  private readBody(req: http.IncomingMessage): Promise<string> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.maxBody) {
      req.resume();
      return Promise.reject(new Refused('body-too-large', `the body may hold at most ${this.maxBody} bytes`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.maxBody) {
          chunks.length = 0;
          req.removeAllListeners('data');
          req.resume();
          reject(new Refused('body-too-large', `the body may hold at most ${this.maxBody} bytes`));
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  private refuse(res: http.ServerResponse, peer: string, route: Route | undefined, code: WireErrorCode, message: string, reason?: string): void {
    // The log keeps the precise reason (unknown worker vs bad secret); the answer does not.
    this.log.warn({ worker: route ? clipName(route.worker) : undefined, action: route?.action, peer, code, reason: reason ?? code }, `workers API refused: ${message}`);
    const body: ErrorBody = { error: code, message: wireMessage(code, message) };
    const status = statusOf(code);
    // After a refused oversize body the connection holds unread bytes: close it rather than parse them.
    if (code === 'body-too-large') res.setHeader('connection', 'close');
    send(res, status, body);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Refused('bad-request', 'the body is not JSON');
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function clipName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name).slice(1, -1);
}

function clipPath(url: string | undefined): string {
  return clipName((url ?? '').split('?')[0]);
}
