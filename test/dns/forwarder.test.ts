import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import { Forwarder } from '../../src/dns/forward/forwarder.js';

/** An upstream on loopback that holds every query until told to answer them all (with QR set). */
async function heldUpstream(t: { after: (fn: () => void) => void }) {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.after(() => s.close());
  const held: { msg: Buffer; port: number; address: string }[] = [];
  s.on('message', (msg, r) => held.push({ msg, port: r.port, address: r.address }));
  return {
    port: s.address().port,
    held,
    answerAll() {
      for (const h of held.splice(0)) {
        const reply = Buffer.from(h.msg);
        reply[2] |= 0x80;
        s.send(reply, h.port, h.address);
      }
    },
  };
}

const query = (id: number) =>
  dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: `q${id}.example`, type: 'A', class: 'IN' }] });

test('beyond maxInFlight a query is refused at once and counted; the ones in flight are still relayed', async (t) => {
  const up = await heldUpstream(t);
  let busy = 0;
  const fwd = new Forwarder({ upstreams: [{ address: '127.0.0.1', port: up.port }], timeoutMs: 10_000, attempts: 1, maxInFlight: 3, onBusy: () => busy++ });
  const accepted = [1, 2, 3].map((id) => fwd.forward(query(id), false));
  const refused = await Promise.all([4, 5].map((id) => fwd.forward(query(id), false)));
  assert.deepEqual(refused, [undefined, undefined]);
  assert.equal(busy, 2);
  assert.equal(fwd.pending, 3);
  const deadline = Date.now() + 5000;
  while (up.held.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  up.answerAll();
  const replies = await Promise.all(accepted);
  assert.deepEqual(replies.map((r) => r && r.readUInt16BE(0)), [1, 2, 3], 'each reply carries its client ID');
  assert.equal(fwd.pending, 0);
  const again = fwd.forward(query(6), false);
  while (up.held.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  up.answerAll();
  assert.equal((await again)?.readUInt16BE(0), 6);
  assert.equal(busy, 2);
});

test('failed tries are counted each time and logged once per upstream and interval', async (t) => {
  const up = await heldUpstream(t); // never answers
  const lines: object[] = [];
  let failed = 0;
  const fwd = new Forwarder({
    upstreams: [{ address: '127.0.0.1', port: up.port }], timeoutMs: 30, attempts: 2,
    onFailedAttempt: () => failed++, log: { error: (o) => lines.push(o) },
  });
  for (let i = 0; i < 3; i++) assert.equal(await fwd.forward(query(i), false), undefined);
  assert.equal(failed, 6);
  assert.equal(lines.length, 1);
});
