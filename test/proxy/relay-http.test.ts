// The relay's HTTP listener on loopback: routing by Host to upstreams on 127.0.0.x, every refusal with its
// status, PROXY v2 to an upstream that asks for it, half-close, and what is (not) logged.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { UpstreamTarget } from '../../src/proxy/index.js';
import { parseProxyV2 } from './proxy-v2-reader.js';
import { httpGet, rawExchange, startRelay, taggedHttpServer, tcpServer, waitFor } from './support.js';

const statusOf = (b: Buffer) => b.toString('latin1').split('\r\n')[0];

describe('relay: HTTP by Host', () => {
  it('routes each name to its host and only there; the request reaches it unchanged', async (t) => {
    const a = await taggedHttpServer(t, '127.0.0.2', 'A');
    const b = await taggedHttpServer(t, '127.0.0.3', 'B');
    const asked: string[] = [];
    const targets: Record<string, UpstreamTarget> = {
      'www.hosta.gwa.demo': { address: '127.0.0.2', port: a },
      'www.hostb.gwa.demo': { address: '127.0.0.3', port: b },
    };
    const { relay, httpPort, lines } = await startRelay(t, {
      resolve: (name, via) => {
        asked.push(`${name} ${via.kind}`);
        return targets[name];
      },
    });
    assert.deepEqual(await httpGet(httpPort, 'WWW.HostA.gwa.demo:80', '/x?y'), { status: 200, body: 'A WWW.HostA.gwa.demo:80 /x?y' });
    assert.deepEqual(await httpGet(httpPort, 'www.hostb.gwa.demo.'), { status: 200, body: 'B www.hostb.gwa.demo. /' });
    assert.deepEqual(asked, ['www.hosta.gwa.demo http', 'www.hostb.gwa.demo http']);
    await waitFor(() => relay.stats.active === 0, 'connections released');
    const s = relay.stats;
    assert.equal(s.accepted, 2);
    assert.equal(s.relayed.http, 2);
    assert.ok(s.bytes.toUpstream > 0 && s.bytes.toClient > 0);
    assert.deepEqual(lines.filter((l) => l.level >= 30 && l.msg !== 'relay listening'), [], 'no info/warn/error line per connection');
  });

  it('connects to the port the client reached unless the target names another', async (t) => {
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2' }) });
    await taggedHttpServer(t, '127.0.0.2', 'same-port', httpPort);
    assert.equal((await httpGet(httpPort, 'a.example')).body, 'same-port a.example /');
    assert.equal(relay.stats.relayed.http, 1);
  });

  it('absolute-form routes by the target URI, and the upstream gets it as sent', async (t) => {
    const a = await taggedHttpServer(t, '127.0.0.2', 'A');
    const { httpPort } = await startRelay(t, { resolve: (n) => (n === 'www.hosta.gwa.demo' ? { address: '127.0.0.2', port: a } : undefined) });
    const r = await rawExchange(httpPort, 'GET http://www.hosta.gwa.demo/abs HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(r.received), 'HTTP/1.1 200 OK');
    assert.match(r.received.toString(), /A elsewhere\.example http:\/\/www\.hosta\.gwa\.demo\/abs$/);
  });

  it('refuses: unknown name 421, IP literal 421, malformed 400, no Host 400, oversized 431 - and never connects', async (t) => {
    const asked: string[] = [];
    const { relay, httpPort } = await startRelay(t, {
      resolve: (n) => void asked.push(n),
      limits: { maxHeaderBytes: 1024 },
    });
    const cases: [string, string][] = [
      ['GET / HTTP/1.1\r\nHost: nope.gwa.demo\r\n\r\n', 'HTTP/1.1 421 Misdirected Request'],
      ['GET / HTTP/1.1\r\nHost: 100.64.1.130\r\n\r\n', 'HTTP/1.1 421 Misdirected Request'],
      ['GET / HTTP/1.1\r\nHost : a.example\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
      ['GET / HTTP/1.1\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
      ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
      [`GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: ${'a'.repeat(2000)}\r\n\r\n`, 'HTTP/1.1 431 Request Header Fields Too Large'],
      [`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(2000)}`, 'HTTP/1.1 431 Request Header Fields Too Large'],
    ];
    for (const [req, status] of cases) {
      const r = await rawExchange(httpPort, req);
      assert.equal(statusOf(r.received), status, JSON.stringify(req.slice(0, 40)));
    }
    assert.deepEqual(asked, ['nope.gwa.demo'], 'the resolver only ever sees well-formed names');
    await waitFor(() => relay.stats.active === 0, 'refused connections released');
    const s = relay.stats;
    assert.deepEqual([s.refused.unknownName, s.refused.noName, s.refused.malformed, s.refused.oversized], [1, 1, 3, 2]);
    assert.equal(s.relayed.http, 0);
  });

  it('a client that sends its FIN right after the request still reads the refusal', async (t) => {
    const { httpPort } = await startRelay(t, { resolve: () => undefined });
    for (let i = 0; i < 20; i++) {
      const r = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: nope.example\r\n\r\n', '127.0.0.1', true);
      assert.equal(statusOf(r.received), 'HTTP/1.1 421 Misdirected Request');
    }
  });

  it('a client that trickles its head is cut off at the header timeout with 408', async (t) => {
    const { relay, httpPort } = await startRelay(t, { resolve: () => undefined, limits: { headerTimeoutMs: 150 } });
    const r = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHo');
    assert.equal(statusOf(r.received), 'HTTP/1.1 408 Request Timeout');
    assert.equal(relay.stats.refused.headerTimeout, 1);
  });

  it('a client that leaves before its head is complete is counted as abandoned, not refused', async (t) => {
    const { relay, httpPort } = await startRelay(t, { resolve: () => undefined });
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: httpPort }, () => s.end('GET / HTTP/1.1\r\nHost: a.exa'));
      s.on('close', () => resolve());
      s.resume();
    });
    await waitFor(() => relay.stats.active === 0, 'slot released');
    assert.equal(relay.stats.abandoned, 1);
    assert.equal(Object.values(relay.stats.refused).reduce((a, b) => a + b), 0);
  });

  it('an upstream that refuses the connection gives 502; one that never answers the SYN 504', async (t) => {
    const closed = await tcpServer(t, '127.0.0.2', () => {});
    const { relay, httpPort } = await startRelay(t, {
      resolve: (n) => (n === 'down.example' ? { address: '127.0.0.2', port: closed + 1 } : { address: '192.0.2.1', port: 80 }),
      limits: { connectTimeoutMs: 1_000 },
    });
    assert.equal(statusOf((await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: down.example\r\n\r\n')).received), 'HTTP/1.1 502 Bad Gateway');
    // 192.0.2.0/24 (TEST-NET-1) is not routed here: either no route (502) or a SYN into the void (504)
    const r = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: void.example\r\n\r\n');
    assert.ok(['HTTP/1.1 504 Gateway Timeout', 'HTTP/1.1 502 Bad Gateway'].includes(statusOf(r.received)!));
    assert.equal(relay.stats.refused.upstreamFailed + relay.stats.refused.upstreamTimeout, 2);
  });

  it('resolver answers it cannot use are refused and logged once per kind: a throw, a host name, the relay itself', async (t) => {
    let relayPort = 0;
    const { relay, httpPort, lines } = await startRelay(t, {
      resolve: (n) => {
        if (n === 'throws.example') throw new Error('boom');
        if (n === 'named.example') return { address: 'localhost', port: 80 };
        return { address: '127.0.0.1', port: relayPort };
      },
    });
    relayPort = httpPort;
    for (const name of ['throws.example', 'throws.example', 'named.example', 'loop.example']) {
      const r = await rawExchange(httpPort, `GET / HTTP/1.1\r\nHost: ${name}\r\n\r\n`);
      assert.match(statusOf(r.received)!, /^HTTP\/1\.1 (421|502) /);
    }
    const errors = lines.filter((l) => l.level >= 50).map((l) => l.kind);
    assert.deepEqual(errors, ['resolver', 'target', 'loop'], 'the second throw is counted, not written');
    assert.equal(relay.stats.relayed.http, 0);
    assert.equal(relay.stats.accepted, 4);
  });

  it('sends a PROXY v2 header first to an upstream that asks for it, then the bytes as the client sent them', async (t) => {
    let got = Buffer.alloc(0);
    const up = await tcpServer(t, '127.0.0.2', (s) => {
      s.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.includes('\r\n\r\n')) s.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
      });
    });
    const { httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up, proxyProtocol: true }) });
    const request = 'GET /pp HTTP/1.1\r\nHost: pp.example\r\n\r\n';
    const client = net.connect({ host: '127.0.0.1', port: httpPort, localAddress: '127.0.0.5' });
    const done = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      client.on('data', (c: Buffer) => chunks.push(c));
      client.on('close', () => resolve(Buffer.concat(chunks)));
    });
    await new Promise((r) => client.once('connect', r));
    const clientPort = client.localPort;
    client.end(request);
    assert.equal(statusOf(await done), 'HTTP/1.1 204 No Content');
    const pp = parseProxyV2(got);
    assert.deepEqual(pp, {
      command: 'PROXY', family: 'TCP4', length: 28,
      source: { address: '127.0.0.5', port: clientPort },
      destination: { address: '127.0.0.1', port: httpPort },
    });
    assert.equal(got.subarray(pp.length).toString('latin1'), request);
  });

  it('half-close passes through: the client FINs after its request and still reads the whole answer', async (t) => {
    const up = await tcpServer(
      t,
      '127.0.0.2',
      (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        // answers only after the client's FIN arrived through the relay
        s.on('end', () => s.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread ${Buffer.concat(chunks).length} bytes`));
      },
      { allowHalfOpen: true },
    );
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }) });
    const body = 'x'.repeat(100_000);
    const request = `POST / HTTP/1.1\r\nHost: h.example\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const client = net.connect({ host: '127.0.0.1', port: httpPort, allowHalfOpen: true });
    const answer = new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      client.on('data', (c: Buffer) => chunks.push(c));
      client.on('end', () => {
        resolve(Buffer.concat(chunks).toString());
        client.end();
      });
    });
    client.end(request);
    assert.match(await answer, new RegExp(`read ${request.length} bytes$`));
    await waitFor(() => relay.stats.active === 0, 'both sides closed');
  });
});
