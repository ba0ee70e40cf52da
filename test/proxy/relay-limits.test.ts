// The relay's bounds on loopback: the global and per-source connection caps (another source is still served),
// backpressure both ways (a peer that does not read makes the relay stop reading, its buffers stay bounded),
// and the idle timeout. Conditions are polled; no test asserts a duration or a rate.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet, openConnection, rawExchange, startRelay, taggedHttpServer, tcpServer, waitFor } from './support.js';

/**
 * What the relay may hold on one socket: the default write high-water mark (16 KiB) plus the read chunks that
 * arrive before the pause takes hold — one as a rule, two seen on a loaded machine (99 KiB measured once in CI
 * load; 128 MiB pushed through, so any leak would show as megabytes).
 */
const BUFFER_BOUND = 16 * 1024 + 2 * 64 * 1024;
/** More than every kernel buffer on the path can hold, so a stalled sender really is held back by the relay. */
const TOTAL = 128 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/** Writes TOTAL bytes to `s` as fast as it accepts them; `state.stalled` while it waits for 'drain'. */
function flood(s: net.Socket, state: { sent: number; stalled: boolean }): void {
  const more = () => {
    state.stalled = false;
    while (state.sent < TOTAL) {
      state.sent += CHUNK.length;
      if (!s.write(CHUNK)) {
        state.stalled = true;
        s.once('drain', more);
        return;
      }
    }
    s.end();
  };
  more();
}

/** Waits until the sender is stalled and the relay's byte count has stopped moving. */
async function stalledBehindRelay(state: { stalled: boolean }, relayed: () => number): Promise<number> {
  for (;;) {
    await waitFor(() => state.stalled, 'the sender stalls');
    const before = relayed();
    await sleep(300); // settling time, not a measurement: the assertion is that nothing moved
    if (state.stalled && relayed() === before) return before;
  }
}

describe('relay: connection caps', () => {
  it('refuses past the per-source cap, and another source is still served', async (t) => {
    const up = await taggedHttpServer(t, '127.0.0.2', 'A');
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }), limits: { maxPerSource: 2, maxConnections: 10 } });
    await openConnection(t, httpPort, '127.0.0.1');
    await openConnection(t, httpPort, '127.0.0.1');
    await waitFor(() => relay.stats.active === 2, 'two slots held by 127.0.0.1');
    const refused = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n', '127.0.0.1');
    assert.equal(refused.received.length, 0, 'refused without an answer');
    assert.equal(relay.stats.refused.sourceCap, 1);
    assert.equal((await httpGet(httpPort, 'a.example', '/', '127.0.0.3')).status, 200);
    assert.equal(relay.stats.relayed.http, 1);
  });

  it('refuses everyone past the global cap, and serves again once a slot is free', async (t) => {
    const up = await taggedHttpServer(t, '127.0.0.2', 'A');
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }), limits: { maxPerSource: 5, maxConnections: 2 } });
    const first = await openConnection(t, httpPort, '127.0.0.1');
    await openConnection(t, httpPort, '127.0.0.3');
    await waitFor(() => relay.stats.active === 2, 'both slots held');
    const refused = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n', '127.0.0.4');
    assert.equal(refused.received.length, 0);
    assert.equal(relay.stats.refused.connectionCap, 1);
    first.socket.destroy();
    await waitFor(() => relay.stats.active === 1, 'a slot released');
    assert.equal((await httpGet(httpPort, 'a.example', '/', '127.0.0.4')).status, 200);
  });
});

describe('relay: backpressure', () => {
  it('a client that does not read: the relay stops reading the upstream, holds a bounded buffer, and resumes', { timeout: 120_000 }, async (t) => {
    const state = { sent: 0, stalled: false };
    const up = await tcpServer(t, '127.0.0.2', (s) => s.once('data', () => flood(s, state)));
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }) });
    const client = net.connect({ host: '127.0.0.1', port: httpPort });
    t.after(() => void client.destroy());
    client.pause();
    client.write('GET /big HTTP/1.1\r\nHost: big.example\r\n\r\n');

    const relayed = await stalledBehindRelay(state, () => relay.stats.bytes.toClient);
    assert.ok(state.sent < TOTAL, 'the upstream is held back before it has sent everything');
    assert.ok(relayed < TOTAL);
    assert.ok(relay.stats.peakBuffered <= BUFFER_BOUND, `relay buffered ${relay.stats.peakBuffered} bytes on one socket`);

    let received = 0;
    const all = new Promise<void>((resolve) => client.on('end', resolve));
    client.on('data', (c: Buffer) => (received += c.length));
    client.resume();
    await all;
    assert.equal(received, TOTAL, 'every byte arrives once the client reads');
    assert.ok(relay.stats.peakBuffered <= BUFFER_BOUND);
  });

  it('an upstream that does not read: the relay stops reading the client, holds a bounded buffer, and resumes', { timeout: 120_000 }, async (t) => {
    let upstream: net.Socket | undefined;
    const up = await tcpServer(t, '127.0.0.2', (s) => {
      s.pause();
      upstream = s;
    });
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }) });
    const client = net.connect({ host: '127.0.0.1', port: httpPort });
    t.after(() => void client.destroy());
    client.on('error', () => {});
    const state = { sent: 0, stalled: false };
    client.write('PUT /big HTTP/1.1\r\nHost: big.example\r\n\r\n');
    await waitFor(() => upstream !== undefined, 'the relay connected upstream');
    flood(client, state);

    const relayed = await stalledBehindRelay(state, () => relay.stats.bytes.toUpstream);
    assert.ok(state.sent < TOTAL);
    assert.ok(relayed < TOTAL);
    assert.ok(relay.stats.peakBuffered <= BUFFER_BOUND, `relay buffered ${relay.stats.peakBuffered} bytes on one socket`);

    let received = 0;
    const all = new Promise<void>((resolve) => upstream!.on('end', resolve));
    upstream!.on('data', (c: Buffer) => (received += c.length));
    upstream!.resume();
    await all;
    assert.equal(received, TOTAL + 'PUT /big HTTP/1.1\r\nHost: big.example\r\n\r\n'.length);
  });
});

describe('relay: idle timeout', () => {
  it('a relayed connection with no bytes either way is closed and counted', async (t) => {
    const up = await taggedHttpServer(t, '127.0.0.2', 'A');
    const { relay, httpPort } = await startRelay(t, { resolve: () => ({ address: '127.0.0.2', port: up }), limits: { idleTimeoutMs: 500 } });
    // keep-alive: the upstream would keep the connection open well past the relay's idle timeout
    const r = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n');
    assert.match(r.received.toString(), /^HTTP\/1\.1 200 OK/);
    assert.equal(relay.stats.idleClosed, 1);
    await waitFor(() => relay.stats.active === 0, 'slot released');
  });
});
