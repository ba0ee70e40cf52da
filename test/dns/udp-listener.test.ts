import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import pino from 'pino';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { UdpListener } from '../../src/dns/server/udp-listener.js';

function capturingLog() {
  const lines: { msg: string; kind?: string }[] = [];
  const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

async function client(t: { after: (fn: () => void) => void }, address: string) {
  const s = dgram.createSocket('udp4');
  s.bind(0, address);
  await once(s, 'listening');
  t.after(() => s.close());
  return s;
}

test('allowClient: datagrams from other addresses are dropped unparsed and counted; allowed ones answered', async (t) => {
  const metrics = new DnsMetrics();
  let handled = 0;
  const handler = { handle: (p: Buffer) => (handled++, Buffer.from(p)) };
  const udp = new UdpListener(handler, '127.0.0.1', 0, pino({ level: 'silent' }), { allowClient: (a) => a === '127.0.0.3', metrics });
  const { port } = await udp.start();
  t.after(() => udp.stop());
  const denied = await client(t, '127.0.0.2');
  const allowed = await client(t, '127.0.0.3');
  for (let i = 0; i < 20; i++) denied.send(Buffer.from([i]), port, '127.0.0.1');
  allowed.send(Buffer.from('ok'), port, '127.0.0.1');
  const [reply] = await once(allowed, 'message');
  assert.equal(reply.toString(), 'ok');
  // Datagrams on loopback arrive in order per socket pair, but the denied ones come from another socket:
  // wait until all 20 are counted.
  const deadline = Date.now() + 5000;
  while (metrics.clientNotAllowed < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(metrics.clientNotAllowed, 20);
  assert.equal(handled, 1);
});

test('a handler that throws on every packet costs a count per packet and one log line', async (t) => {
  const metrics = new DnsMetrics();
  const { log, lines } = capturingLog();
  let calls = 0;
  const handler = {
    handle: (p: Buffer) => {
      calls++;
      if (p[0] !== 0xff) throw new Error('boom');
      return Buffer.from('done');
    },
  };
  const udp = new UdpListener(handler, '127.0.0.1', 0, log, { metrics });
  const { port } = await udp.start();
  t.after(() => udp.stop());
  const c = await client(t, '127.0.0.1');
  // 100 small datagrams fit the default receive buffer, so none is lost before it is read.
  for (let i = 0; i < 100; i++) c.send(Buffer.from([1, i]), port, '127.0.0.1');
  c.send(Buffer.from([0xff]), port, '127.0.0.1'); // same socket pair, in order: answered after all 100
  await once(c, 'message');
  assert.equal(calls, 101);
  assert.equal(metrics.handlerErrors, 100);
  assert.equal(lines.filter((l) => l.msg === 'query handling failed').length, 1);
});
