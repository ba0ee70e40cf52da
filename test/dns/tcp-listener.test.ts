import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import pino from 'pino';
import { DnsMetrics } from '../../src/dns/metrics.js';
import type { QueryHandling } from '../../src/dns/server/query-handling.js';
import { TcpListener, type TcpOptions } from '../../src/dns/server/tcp-listener.js';

// A stand-in handler: echoes the query's ID in a reply of `replySize` bytes and counts what it handled.
function fakeHandler(replySize: number) {
  const h = {
    handled: 0,
    handle(packet: Buffer) {
      h.handled++;
      const out = Buffer.alloc(replySize);
      packet.copy(out, 0, 0, 2);
      return out;
    },
  };
  return h;
}

async function listen(t: { after: (fn: () => Promise<void>) => void }, handler: QueryHandling, opts: Partial<TcpOptions>) {
  const metrics = new DnsMetrics();
  const listener = new TcpListener(handler, '127.0.0.1', 0, { idleTimeoutMs: 30_000, maxConnections: 100, ...opts }, metrics, pino({ level: 'silent' }));
  const { port } = await listener.start();
  t.after(() => listener.stop());
  return { listener, metrics, port };
}

function frame(id: number): Buffer {
  const b = Buffer.alloc(2 + 17);
  b.writeUInt16BE(17, 0);
  b.writeUInt16BE(id, 2);
  return b;
}

async function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  await once(s, 'connect');
  return s;
}

/** Waits until `cond` holds, checking on every turn of the event loop; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads length-framed replies until `n` have arrived. */
function collect(s: net.Socket, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let got = 0;
    s.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (++got === n) resolve(got);
      }
    });
    s.on('close', () => reject(new Error(`closed after ${got} replies`)));
  });
}

// Large answers fill the kernel's buffers quickly; a bound below Node's default high-water mark proves reading
// still resumes (the 'drain' it waits for does come).
for (const { replySize, maxQueuedBytes, total } of [
  { replySize: 60_000, maxQueuedBytes: 65_536, total: 2000 },
  { replySize: 3000, maxQueuedBytes: 4096, total: 40_000 },
]) {
  test(`a client that pipelines and never reads is paused with its queued answers bounded (${maxQueuedBytes} B), and served once it reads`, async (t) => {
    const handler = fakeHandler(replySize);
    const { listener, metrics, port } = await listen(t, handler, { maxQueuedBytes });
    const client = await connect(port);
    t.after(() => client.destroy());
    client.pause(); // never read: the kernel buffers fill, then the server's own queue
    client.write(Buffer.concat(Array.from({ length: total }, (_, i) => frame(i))));
    await until(() => listener.states()[0]?.readingPaused === true && metrics.tcpPausedForBacklog > 0, 20_000, 'reading to pause');
    const state = listener.states()[0];
    assert.ok(state.queuedBytes <= maxQueuedBytes + 2 + replySize, `queued ${state.queuedBytes}`);
    assert.ok(handler.handled < total, `handled ${handler.handled} of ${total} while the client read nothing`);
    const handledWhilePaused = handler.handled;
    await new Promise((r) => setImmediate(r));
    assert.equal(handler.handled, handledWhilePaused, 'nothing more is handled while the client still reads nothing');
    const all = collect(client, total);
    client.resume();
    assert.equal(await all, total);
    assert.equal(handler.handled, total);
    for (const s of listener.states()) assert.ok(s.queuedBytes <= maxQueuedBytes + 2 + replySize);
  });
}

test('per-source cap: a third connection from 127.0.0.2 is closed while 127.0.0.3 is still served', async (t) => {
  const { metrics, port } = await listen(t, fakeHandler(20), { maxConnectionsPerSource: 2 });
  const a1 = await connect(port, '127.0.0.2');
  const a2 = await connect(port, '127.0.0.2');
  t.after(() => { a1.destroy(); a2.destroy(); });
  const r1 = collect(a1, 1);
  a1.write(frame(1));
  assert.equal(await r1, 1); // the server has registered a1 (and a2, accepted before it)
  const a3 = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
  a3.on('error', () => {});
  await once(a3, 'close');
  assert.equal(metrics.tcpRejectedPerSource, 1);
  const b = await connect(port, '127.0.0.3');
  t.after(() => b.destroy());
  const rb = collect(b, 1);
  b.write(frame(2));
  assert.equal(await rb, 1);
  const r2 = collect(a2, 1);
  a2.write(frame(3));
  assert.equal(await r2, 1, 'the connections within the cap are still served');
  assert.equal(metrics.tcpRejectedPerSource, 1);
});

test('a connection is closed at its maximum lifetime even while busy; the idle timeout is not what closed it', async (t) => {
  const { metrics, port } = await listen(t, fakeHandler(20), { maxLifetimeMs: 300, idleTimeoutMs: 60_000 });
  const c = await connect(port);
  t.after(() => c.destroy());
  let replies = 0;
  c.on('data', () => replies++);
  const keepBusy = setInterval(() => c.writable && c.write(frame(7)), 20);
  t.after(() => clearInterval(keepBusy));
  await once(c, 'close');
  clearInterval(keepBusy);
  assert.equal(metrics.tcpLifetimeClosed, 1);
  assert.equal(metrics.tcpIdleClosed, 0);
  assert.ok(replies > 0);
});

test('allowClient: a connection from outside the allowed clients is closed unread and counted', async (t) => {
  const handler = fakeHandler(20);
  const { metrics, port } = await listen(t, handler, { allowClient: (a) => a === '127.0.0.3' });
  const denied = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
  denied.on('error', () => {});
  denied.on('connect', () => denied.write(frame(1)));
  await once(denied, 'close');
  assert.equal(metrics.clientNotAllowed, 1);
  assert.equal(handler.handled, 0);
  const ok = await connect(port, '127.0.0.3');
  t.after(() => ok.destroy());
  const r = collect(ok, 1);
  ok.write(frame(2));
  assert.equal(await r, 1);
});

test('a handler that throws costs one counted error per query and no crash; the connection keeps working', async (t) => {
  let n = 0;
  const handler = { handle: (p: Buffer) => { if (n++ % 2 === 0) throw new Error('boom'); return Buffer.from(p.subarray(0, 12)); } };
  const { metrics, port } = await listen(t, handler, {});
  const c = await connect(port);
  t.after(() => c.destroy());
  const r = collect(c, 5);
  c.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(i))));
  assert.equal(await r, 5);
  assert.equal(metrics.handlerErrors, 5);
});
