// The relay's lifecycle: options refused at construction, a failed start leaves nothing bound, stop ends
// relayed connections too. And the one spelling of names the resolver is asked with.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { canonicalName, ProxyRelay } from '../../src/proxy/index.js';
import { memoryLogger, openConnection, startRelay, tcpServer, waitFor } from './support.js';

const { logger } = memoryLogger();
const resolve = () => undefined;

describe('relay lifecycle', () => {
  it('refuses options that cannot make a relay', () => {
    const http = { address: '127.0.0.1', port: 0, kind: 'http' as const };
    assert.throws(() => new ProxyRelay({ listeners: [], resolve, logger }), TypeError);
    assert.throws(() => new ProxyRelay({ listeners: [{ ...http, address: 'localhost' }], resolve, logger }), TypeError);
    assert.throws(() => new ProxyRelay({ listeners: [{ ...http, port: 70000 }], resolve, logger }), TypeError);
    assert.throws(() => new ProxyRelay({ listeners: [http], resolve, logger, limits: { maxPerSource: 0 } }), TypeError);
    assert.throws(() => new ProxyRelay({ listeners: [http], resolve, logger, upstreamLocalAddress: 'gw' }), TypeError);
  });

  it('a listener that cannot bind fails start and closes the ones already bound', async (t) => {
    const taken = await tcpServer(t, '127.0.0.1', () => {});
    const free = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const relay = new ProxyRelay({
      listeners: [{ address: '127.0.0.1', port: free, kind: 'http' }, { address: '127.0.0.1', port: taken, kind: 'tls' }],
      resolve,
      logger,
    });
    await assert.rejects(relay.start(), /EADDRINUSE/);
    assert.deepEqual(relay.endpoints(), []);
    const again = net.createServer();
    await new Promise<void>((r) => again.listen(free, '127.0.0.1', r)); // the first port was given back
    await new Promise<void>((r) => again.close(() => r()));
  });

  it('stop closes the listeners and every connection, relayed or not', async (t) => {
    const up = await tcpServer(t, '127.0.0.2', () => {});
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }) });
    const waiting = await openConnection(t, httpPort);
    const relayed = await openConnection(t, httpPort);
    relayed.socket.write('GET / HTTP/1.1\r\nHost: a.example\r\n\r\n');
    await waitFor(() => relay.stats.relayed.http === 1, 'one connection relayed');
    await relay.stop();
    await Promise.all([waiting.closed, relayed.closed]);
    await waitFor(() => relay.stats.active === 0, 'slots released');
    await assert.rejects(openConnection(t, httpPort));
  });
});

describe('canonical names', () => {
  it('lower case, no trailing dot; IP literals and non-names are no names', () => {
    assert.equal(canonicalName('WWW.HostA.GWA.demo.'), 'www.hosta.gwa.demo');
    assert.equal(canonicalName('_sip.a-b.example'), '_sip.a-b.example');
    for (const bad of ['', '.', 'a..b', '-a.example', 'a-.example', 'a b', 'a/b', '192.0.2.1', `${'a'.repeat(64)}.example`, 'é.example']) {
      assert.equal(canonicalName(bad), undefined, JSON.stringify(bad));
    }
  });
});
