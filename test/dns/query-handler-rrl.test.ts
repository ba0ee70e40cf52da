/** Response-rate limiting in the query handler: only UDP answers that allocate nothing are limited. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import pino from 'pino';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { buildViews } from '../../src/dns/authority/views.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { QueryHandler, type Transport } from '../../src/dns/server/query-handler.js';
import { Rrl } from '../../src/dns/server/rrl.js';
import { hosts, poolAddrs, zones } from '../support/dns-view-fixture.js';

function setup() {
  const now = 1000;
  const pool = new CircularPool({ addresses: poolAddrs, lifetimeMs: 2000 });
  const views = buildViews(zones, hosts, { serviceAddress: '100.64.1.130', addresses: poolAddrs, nameZone: 'gwa.demo' });
  const metrics = new DnsMetrics();
  const rrl = new Rrl({ responsesPerSecond: 2, slip: 2, window: 5 });
  const handler = new QueryHandler({
    view: views.wan, pool, metrics, log: pino({ level: 'silent' }), now: () => now, sleep: async () => {}, udpPayloadSize: 1232, tcpRetryMs: 0, rrl,
  });
  const ask = async (name: string, transport: Transport = 'udp') => {
    const packet = dnsPacket.encode({ type: 'query', id: 5, questions: [{ name, type: 'A', class: 'IN' }] });
    const out = await handler.handle(packet, transport, '198.51.100.9');
    return out && dnsPacket.decode(out);
  };
  return { ask, metrics, pool };
}

test('a burst of identical NXDOMAINs to one prefix: 2 answered, then every 2nd limited one slips as TC=1, the rest dropped', async () => {
  const { ask, metrics } = setup();
  const replies = [];
  for (let i = 0; i < 10; i++) replies.push(await ask('nope.gwa.demo'));
  assert.deepEqual(replies.slice(0, 2).map((r) => (r as { rcode?: string })?.rcode), ['NXDOMAIN', 'NXDOMAIN']);
  const limited = replies.slice(2);
  assert.equal(limited.filter((r) => r === undefined).length, 4);
  assert.ok(limited.filter((r) => r !== undefined).every((r) => r!.flag_tc && r!.answers!.length === 0));
  assert.equal(metrics.rrlDropped, 4);
  assert.equal(metrics.rrlSlipped, 4);
});

test('TCP answers and allocations are never rate-limited', async () => {
  const { ask, metrics, pool } = setup();
  for (let i = 0; i < 6; i++) assert.equal((await ask('nope.gwa.demo', 'tcp') as { rcode?: string }).rcode, 'NXDOMAIN');
  for (let i = 0; i < 3; i++) assert.equal((await ask('www.hosta.gwa.demo'))?.answers?.length ?? 0, i < 2 ? 1 : 0, 'host max 2: the third is silence (UDP), not rate limiting');
  assert.equal(metrics.rrlDropped + metrics.rrlSlipped, 0);
  assert.equal(pool.stats.reserved, 2);
});
