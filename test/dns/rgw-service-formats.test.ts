// dns.wan.serviceFormats: realm-gateway — service names' SRV and TXT answers in Realm Gateway's own formats
// (NOTES §5), so that a Realm Gateway in front of or behind realmgw reads them: SRV target
// `_<port>._<protocol number>.<name>` (which allocates when asked for A), TXT
// `proxy_<True|False>.port_<n>.protocol_<n>.<name>.` that allocates like A, with the address as additional A.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildViews } from '../../src/dns/authority/views.js';
import { decide, QTYPE, type Decision } from '../../src/dns/answer/decide.js';
import { addressSlot, QUESTION_NAME } from '../../src/dns/wire/response-spec.js';
import dnsPacket from 'dns-packet';
import pino from 'pino';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { QueryHandler } from '../../src/dns/server/query-handler.js';
import { formatIpv4 } from '../../src/util/ipv4.js';
import { hosts, poolAddrs, zones } from '../support/dns-view-fixture.js';

const naming = { serviceAddress: '100.64.1.130', addresses: poolAddrs, nameZone: 'gwa.demo' };
const rgw = buildViews(zones, hosts, naming, [], true).wan;
const own = buildViews(zones, hosts, naming).wan;

function allocation(d: Decision): Extract<Decision, { kind: 'allocate' }> {
  assert.equal(d.kind, 'allocate', JSON.stringify(d));
  return d as Extract<Decision, { kind: 'allocate' }>;
}

test('SRV: the target spells the protocol as its number, and asking A for that target allocates too', () => {
  const srv = allocation(decide(rgw, 'ssh.hosta.gwa.demo', QTYPE.SRV, 1)).spec;
  assert.deepEqual(srv.answers, [{ name: QUESTION_NAME, type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: 22, target: '_22._6.ssh.hosta.gwa.demo' } }]);
  assert.deepEqual(srv.additionals, [addressSlot('_22._6.ssh.hosta.gwa.demo', 0)]);
  const a = allocation(decide(rgw, '_22._6.ssh.hosta.gwa.demo', QTYPE.A, 1));
  assert.equal(a.service.fqdn, 'ssh.hosta.gwa.demo');
  assert.equal(decide(rgw, '_22._tcp.ssh.hosta.gwa.demo', QTYPE.A, 1).kind, 'answer', "realmgw's own spelling is not published in this mode");
});

test('TXT allocates: the description in Python\'s spelling, the address as additional A of the question', () => {
  const txt = allocation(decide(rgw, 'ssh.hosta.gwa.demo', QTYPE.TXT, 1));
  assert.equal(txt.shape, 'TXT');
  assert.deepEqual(txt.spec.answers, [{ name: QUESTION_NAME, type: 'TXT', ttl: 0, data: ['proxy_False.port_22.protocol_6.ssh.hosta.gwa.demo.'] }]);
  assert.deepEqual(txt.spec.additionals, [addressSlot(QUESTION_NAME, 0)]);
});

test('a proxied name: proxy_True and the relay\'s address, nothing reserved', () => {
  const d = decide(rgw, 'web.hosta.gwa.demo', QTYPE.TXT, 1);
  assert.equal(d.kind, 'answer');
  const spec = (d as Extract<Decision, { kind: 'answer' }>).spec;
  assert.deepEqual(spec.answers.map((r) => r.data), [['proxy_True.port_443.protocol_6.web.hosta.gwa.demo.']]);
  assert.deepEqual(spec.additionals.map((r) => r.data), ['100.64.1.130']);
});

test("realmgw's formats stay the default: _tcp targets, a descriptive TXT that reserves nothing", () => {
  assert.equal((allocation(decide(own, 'ssh.hosta.gwa.demo', QTYPE.SRV, 1)).spec.answers[0].data as { target: string }).target, '_22._tcp.ssh.hosta.gwa.demo');
  assert.equal(decide(own, 'ssh.hosta.gwa.demo', QTYPE.TXT, 1).kind, 'answer');
});

test('on the wire (the query handler): TXT reserves one address, the additional A carries it; SRV glue too', async () => {
  const pool = new CircularPool({ addresses: poolAddrs, lifetimeMs: 2000 });
  const handler = new QueryHandler({ view: rgw, pool, metrics: new DnsMetrics(), log: pino({ level: 'silent' }), now: () => 1000, sleep: async () => {}, udpPayloadSize: 1232, tcpRetryMs: 0 });
  const ask = async (name: string, type: dnsPacket.RecordType) => {
    const out = await handler.handle(dnsPacket.encode({ type: 'query', id: 9, questions: [{ name, type, class: 'IN' }] }), 'udp', '100.64.0.100');
    return dnsPacket.decode(out!);
  };
  const txt = await ask('SSH.hosta.gwa.demo', 'TXT');
  assert.deepEqual(txt.answers!.map((a) => [a.name, a.type, ((a as dnsPacket.TxtAnswer).data as Buffer[]).map(String)]), [['SSH.hosta.gwa.demo', 'TXT', ['proxy_False.port_22.protocol_6.ssh.hosta.gwa.demo.']]]);
  const held = pool.live();
  assert.equal(held.length, 1);
  assert.deepEqual(txt.additionals!.map((a) => [a.name, a.type, (a as dnsPacket.StringAnswer).data]), [['SSH.hosta.gwa.demo', 'A', formatIpv4(held[0].address)]]);
  const srv = await ask('ssh.hosta.gwa.demo', 'SRV');
  assert.equal(((srv.answers![0] as dnsPacket.SrvAnswer).data as { target: string }).target, '_22._6.ssh.hosta.gwa.demo');
  assert.deepEqual(srv.additionals!.map((a) => [a.name, a.type]), [['_22._6.ssh.hosta.gwa.demo', 'A']]);
  assert.equal(pool.live().length, 2);
});
