// Helpers for the relay tests: real ClientHellos from node:tls, a self-signed certificate made with the
// openssl CLI, upstream servers on 127.0.0.x, raw clients, and polling for a condition (never for a duration).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { ProxyRelay, type ProxyRelayOptions } from '../../src/proxy/index.js';
import { memoryLogger } from '../stun/support.js';

export { memoryLogger };

/** The bytes node:tls sends first (its whole ClientHello, as record(s)), captured by a plain TCP listener. */
export async function captureClientHello(options: tls.ConnectionOptions = {}): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const got = new Promise<Buffer>((resolve, reject) => {
    server.once('connection', (s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        // node:tls writes its hello in one flight and then waits: stop once every record in it is whole
        if (wholeRecords(buf)) {
          s.destroy();
          resolve(buf);
        }
      });
      s.on('error', reject);
    });
  });
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  try {
    return await got;
  } finally {
    client.destroy();
    server.close();
  }
}

function wholeRecords(buf: Buffer): boolean {
  let off = 0;
  while (off + 5 <= buf.length) off += 5 + buf.readUInt16BE(off + 3);
  return off === buf.length && off > 0;
}

/** The handshake message inside `records` cut into records of at most `size` bytes each. */
export function reframe(records: Buffer, size: number): Buffer {
  const payload: Buffer[] = [];
  for (let off = 0; off < records.length; off += 5 + records.readUInt16BE(off + 3)) {
    payload.push(records.subarray(off + 5, off + 5 + records.readUInt16BE(off + 3)));
  }
  const message = Buffer.concat(payload);
  const out: Buffer[] = [];
  for (let off = 0; off < message.length; off += size) {
    const frag = message.subarray(off, off + size);
    out.push(Buffer.from([22, 3, 1, frag.length >> 8, frag.length & 0xff]), frag);
  }
  return Buffer.concat(out);
}

export interface TestCert {
  key: Buffer;
  cert: Buffer;
}

/** A fresh self-signed P-256 certificate for `names` (made per test run: no private key lives in the repo). */
export function selfSignedCert(names: string[]): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'rgw-proxy-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `cond` until it holds; fails with `what` if it never does (a safety net, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A relay on 127.0.0.1 (an HTTP and a TLS listener on free ports), stopped after the test. */
export async function startRelay(t: TestContext, opts: Partial<ProxyRelayOptions> & Pick<ProxyRelayOptions, 'resolve'>) {
  const { logger, lines } = memoryLogger();
  const relay = new ProxyRelay({
    listeners: [
      { address: '127.0.0.1', port: 0, kind: 'http' },
      { address: '127.0.0.1', port: 0, kind: 'tls' },
    ],
    logger,
    ...opts,
  });
  await relay.start();
  t.after(() => relay.stop());
  const [httpEnd, tlsEnd] = relay.endpoints();
  return { relay, lines, httpPort: httpEnd!.port, tlsPort: tlsEnd!.port };
}

/** An HTTP server on `address` that answers '<tag> <Host> <url>'; stopped after the test. */
export async function taggedHttpServer(t: TestContext, address: string, tag: string, port = 0): Promise<number> {
  const server = http.createServer((req, res) => res.end(`${tag} ${req.headers.host} ${req.url}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.after(() => server.closeAllConnections());
  return (server.address() as net.AddressInfo).port;
}

/** A plain TCP server on `address`; `onSocket` gets each connection. Stopped (connections too) after the test. */
export async function tcpServer(t: TestContext, address: string, onSocket: (s: net.Socket) => void, opts: net.ServerOpts = {}): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(opts, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

export interface RawExchange {
  /** everything the relay sent before the connection closed */
  received: Buffer;
  /** the connection ended by a reset or another socket error */
  error?: string;
}

/**
 * Connects to the relay, sends `bytes` (unless undefined; with `fin`, followed by a FIN), and collects what
 * comes back until the close.
 */
export function rawExchange(port: number, bytes: Buffer | string | undefined, localAddress = '127.0.0.1', fin = false): Promise<RawExchange> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    s.on('connect', () => {
      if (bytes !== undefined) s.write(bytes);
      if (fin) s.end();
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end());
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ received: Buffer.concat(chunks), error }));
  });
}

/** An open connection to the relay from `localAddress`, destroyed after the test. */
export async function openConnection(t: TestContext, port: number, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  t.after(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return { socket, closed };
}

/** GET through the relay with the given Host; resolves with status and body. */
export function httpGet(port: number, host: string, path = '/', localAddress = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, localAddress, agent: false, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}
