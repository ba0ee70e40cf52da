// The relay's TLS listener on loopback: real handshakes end to end through it (the relay never terminates
// TLS: the client verifies the host's own certificate), and the alert or close for what it cannot route.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { parseProxyV2 } from './proxy-v2-reader.js';
import { captureClientHello, rawExchange, reframe, selfSignedCert, startRelay, tcpServer, type TestCert, waitFor } from './support.js';

/** A TLS server on `address` that answers each line with '<tag>:<servername>:<line>'. */
async function taggedTlsServer(t: TestContext, address: string, tag: string, cert: TestCert): Promise<number> {
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (s) => {
    s.on('error', () => {});
    s.on('data', (c: Buffer) => s.write(`${tag}:${(s as tls.TLSSocket & { servername?: string }).servername}:${c.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const sockets = new Set<net.Socket>();
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** TLS through the relay: handshake, one line, its answer. Rejects with the TLS error if the handshake fails. */
function tlsRoundTrip(port: number, servername: string | undefined, ca: Buffer, line = 'hello'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca });
    s.on('error', reject);
    s.on('secureConnect', () => s.write(line));
    s.on('data', (c: Buffer) => {
      resolve(c.toString());
      s.end();
    });
  });
}

describe('relay: TLS by SNI', () => {
  let cert: TestCert;
  before(() => {
    cert = selfSignedCert(['www.hosta.gwa.demo', 'www.hostb.gwa.demo']);
  });

  it('routes each server name to its host; the handshake and the data go through untouched', async (t) => {
    const a = await taggedTlsServer(t, '127.0.0.2', 'A', cert);
    const b = await taggedTlsServer(t, '127.0.0.3', 'B', cert);
    const asked: string[] = [];
    const { relay, tlsPort, lines } = await startRelay(t, {
      resolve: (name, via) => {
        asked.push(`${name} ${via.kind} ${via.port === tlsPort}`);
        return ({ 'www.hosta.gwa.demo': { address: '127.0.0.2', port: a }, 'www.hostb.gwa.demo': { address: '127.0.0.3', port: b } })[name];
      },
    });
    assert.equal(await tlsRoundTrip(tlsPort, 'www.hosta.gwa.demo', cert.cert, 'one'), 'A:www.hosta.gwa.demo:one');
    assert.equal(await tlsRoundTrip(tlsPort, 'WWW.HOSTB.gwa.demo', cert.cert, 'two'), 'B:WWW.HOSTB.gwa.demo:two');
    assert.deepEqual(asked, ['www.hosta.gwa.demo tls true', 'www.hostb.gwa.demo tls true']);
    await waitFor(() => relay.stats.active === 0, 'connections released');
    assert.equal(relay.stats.relayed.tls, 2);
    assert.deepEqual(lines.filter((l) => l.level >= 30 && l.msg !== 'relay listening'), []);
  });

  it('a TLS 1.2 client goes through as well', async (t) => {
    const a = await taggedTlsServer(t, '127.0.0.2', 'A', cert);
    const { tlsPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: a }) });
    const got = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'www.hosta.gwa.demo', ca: cert.cert, maxVersion: 'TLSv1.2' });
      s.on('error', reject);
      s.on('secureConnect', () => s.write(s.getProtocol() ?? '?'));
      s.on('data', (c: Buffer) => {
        resolve(c.toString());
        s.end();
      });
    });
    assert.equal(got, 'A:www.hosta.gwa.demo:TLSv1.2');
  });

  it('an unknown name or no SNI gets a fatal unrecognized_name alert, and the client sees it as such', async (t) => {
    const asked: string[] = [];
    const { relay, tlsPort } = await startRelay(t, { resolve: (n) => void asked.push(n) });
    await assert.rejects(tlsRoundTrip(tlsPort, 'nope.gwa.demo', cert.cert), (err: NodeJS.ErrnoException) => {
      assert.match(`${err.code} ${err.message}`, /UNRECOGNIZED_NAME|unrecognized name/i);
      return true;
    });
    const raw = await rawExchange(tlsPort, await captureClientHello({})); // host is an IP: no server_name
    assert.deepEqual([...raw.received], [21, 3, 3, 0, 2, 2, 112]);
    assert.deepEqual(asked, ['nope.gwa.demo']);
    await waitFor(() => relay.stats.active === 0, 'refused connections released');
    assert.equal(relay.stats.refused.unknownName, 1);
    assert.equal(relay.stats.refused.noName, 1);
  });

  it('malformed hellos and oversized ones are closed without an answer; a slow hello at the header timeout', async (t) => {
    const { relay, tlsPort } = await startRelay(t, { resolve: () => undefined, limits: { maxHeaderBytes: 256, headerTimeoutMs: 1_000 } });
    const hello = await captureClientHello({ servername: 'www.hosta.gwa.demo' });
    assert.ok(hello.length > 256);
    assert.equal((await rawExchange(tlsPort, 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n')).received.length, 0);
    assert.equal((await rawExchange(tlsPort, hello)).received.length, 0, 'over 256 bytes of records');
    // a record header announcing more than the bound is refused at once, so the slow client sends less
    assert.equal((await rawExchange(tlsPort, reframe(hello, 100).subarray(0, 60))).received.length, 0, 'never completed');
    await waitFor(() => relay.stats.active === 0, 'connections released');
    const r = relay.stats.refused;
    assert.deepEqual([r.malformed, r.oversized, r.headerTimeout], [1, 1, 1]);
  });

  it('PROXY v2 precedes the ClientHello for an upstream that asks for it', async (t) => {
    let got = Buffer.alloc(0);
    const up = await tcpServer(t, '127.0.0.2', (s) => s.on('data', (c: Buffer) => (got = Buffer.concat([got, c]))));
    const { tlsPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up, proxyProtocol: true }) });
    const hello = await captureClientHello({ servername: 'www.hosta.gwa.demo' });
    const client = net.connect({ host: '127.0.0.1', port: tlsPort });
    t.after(() => void client.destroy());
    client.write(hello);
    await waitFor(() => got.length >= 28 + hello.length, 'header and hello at the upstream');
    const pp = parseProxyV2(got);
    assert.equal(pp?.family, 'TCP4');
    assert.deepEqual(pp?.destination, { address: '127.0.0.1', port: tlsPort });
    assert.equal(pp?.source?.port, client.localPort);
    assert.ok(got.subarray(pp!.length).equals(hello));
  });
});
