import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import pino from 'pino';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { buildViews } from '../../src/dns/authority/views.js';
import { hosts, poolAddrs, zones } from '../support/dns-view-fixture.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { QueryHandler, type QueryHandlerDeps, type Transport } from '../../src/dns/server/query-handler.js';


function setup(view: 'wan' | 'lan' = 'wan', onReserve?: QueryHandlerDeps['onReserve']) {
  let now = 1000;
  const pool = new CircularPool({ addresses: poolAddrs, lifetimeMs: 2000 });
  const views = buildViews(zones, hosts, { serviceAddress: '100.64.1.130', addresses: poolAddrs, nameZone: 'gwa.demo' });
  const metrics = new DnsMetrics();
  const handler = new QueryHandler({
    view: views[view], pool, metrics, log: pino({ level: 'silent' }), now: () => now, sleep: async () => {}, udpPayloadSize: 1232, tcpRetryMs: 0, onReserve,
  });
  const ask = async (name: string, type: string, opts: { transport?: Transport; edns?: number; raw?: Buffer } = {}) => {
    const packet = opts.raw ?? dnsPacket.encode({
      type: 'query', id: 77, flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
      additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns } as unknown as dnsPacket.Answer] : [],
    });
    const out = await handler.handle(packet, opts.transport ?? 'udp', '100.64.0.100');
    return out && { buf: out, msg: dnsPacket.decode(out) as dnsPacket.DecodedPacket & { rcode: string } };
  };
  return { ask, pool, metrics, handler, views, advance: (ms: number) => (now += ms) };
}

test('WAN A for a service name allocates from the pool with TTL 0, AA set, case echoed', async () => {
  const { ask, pool } = setup();
  const r = (await ask('WWW.HostA.gwa.demo', 'A'))!;
  assert.equal(r.msg.id, 77);
  assert.equal(r.msg.rcode, 'NOERROR');
  assert.ok(r.msg.flag_aa);
  assert.ok(r.msg.flag_rd, 'RD echoed');
  assert.equal(r.msg.questions![0].name, 'WWW.HostA.gwa.demo');
  assert.equal(r.msg.answers!.length, 1);
  const a = r.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(a.name, 'WWW.HostA.gwa.demo');
  assert.equal(a.ttl, 0);
  assert.equal(a.data, '100.64.1.131');
  assert.equal(pool.stats.live, 1);
  const r2 = (await ask('www.hostb.gwa.demo', 'A'))!;
  assert.equal((r2.msg.answers![0] as dnsPacket.StringAnswer).data, '100.64.1.132', 'circular: next address');
});

test('exhaustion: UDP gets silence, TCP an empty answer after the retry; both counted; expiry recovers', async () => {
  const { ask, metrics, advance } = setup();
  for (let i = 0; i < 3; i++) assert.ok((await ask('www.hostb.gwa.demo', 'A'))!.msg.answers!.length === 1);
  assert.equal(await ask('www.hostb.gwa.demo', 'A'), undefined);
  assert.equal(metrics.exhaustedUdpDropped, 1);
  const tcp = (await ask('www.hostb.gwa.demo', 'A', { transport: 'tcp' }))!;
  assert.equal(tcp.msg.rcode, 'NOERROR');
  assert.equal(tcp.msg.answers!.length, 0);
  assert.equal(tcp.msg.authorities!.length, 0, 'no SOA: the empty answer must not be negatively cached');
  assert.equal(metrics.exhaustedTcpEmpty, 1);
  advance(2000);
  assert.equal((await ask('www.hostb.gwa.demo', 'A'))!.msg.answers!.length, 1, 'expired reservations free the pool');
});

test('a service with a different port shares an address; CIRCULARPOOL max caps the host', async () => {
  const { ask } = setup();
  const www = (await ask('www.hosta.gwa.demo', 'A'))!.msg.answers![0] as dnsPacket.StringAnswer;
  const ssh = (await ask('ssh.hosta.gwa.demo', 'A'))!.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(www.data, '100.64.1.131');
  assert.equal(ssh.data, '100.64.1.132');
  assert.equal(await ask('hosta.gwa.demo', 'A'), undefined, 'hosta has max 2 pending');
});

test('SRV and TXT for a service name', async () => {
  const { ask } = setup();
  const srv = (await ask('ssh.hosta.gwa.demo', 'SRV'))!.msg;
  const rr = srv.answers![0] as dnsPacket.SrvAnswer;
  assert.deepEqual(rr.data, { priority: 10, weight: 100, port: 22, target: '_22._tcp.ssh.hosta.gwa.demo' });
  assert.equal(rr.ttl, 0);
  const glue = srv.additionals![0] as dnsPacket.StringAnswer;
  assert.equal(glue.name, '_22._tcp.ssh.hosta.gwa.demo');
  assert.equal(glue.data, '100.64.1.131');
  const txt = (await ask('ssh.hosta.gwa.demo', 'TXT'))!.msg.answers![0] as dnsPacket.TxtAnswer;
  assert.deepEqual((txt.data as Buffer[]).map(String), ['proxy_required=false', 'protocol=tcp', 'port=22']);
  const any = (await ask('hosta.gwa.demo', 'SRV'))!.msg;
  assert.equal(any.answers!.length, 0, 'no SRV for a name without a fixed port');
});

test('AAAA for a service name is NODATA with SOA; proxy_required answers the service address', async () => {
  const { ask, pool } = setup();
  const r = (await ask('www.hosta.gwa.demo', 'AAAA'))!.msg;
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.answers!.length, 0);
  assert.equal(r.authorities![0].type, 'SOA');
  assert.equal(r.authorities![0].ttl, 60, 'negative TTL is min(SOA TTL, minimum)');
  const p = (await ask('web.hosta.gwa.demo', 'A'))!.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(p.data, '100.64.1.130');
  assert.equal(pool.stats.live, 0);
});

test('authoritative basics: apex SOA and NS, NXDOMAIN with SOA, label-aware zones, REFUSED outside', async () => {
  const { ask } = setup();
  const soaR = (await ask('gwa.demo', 'SOA'))!.msg;
  assert.equal(soaR.answers![0].type, 'SOA');
  const ns = (await ask('gwa.demo', 'NS'))!.msg;
  assert.equal((ns.answers![0] as dnsPacket.StringAnswer).data, 'ns1.gwa.demo');
  assert.equal((ns.additionals![0] as dnsPacket.StringAnswer).data, '100.64.1.130', 'glue');
  const apexA = (await ask('gwa.demo', 'A'))!.msg;
  assert.equal(apexA.answers!.length, 0, 'apex A is NODATA, not an A whatever the type');
  const nx = (await ask('nope.gwa.demo', 'A'))!.msg;
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.authorities![0].type, 'SOA');
  assert.equal((await ask('evilgwa.demo', 'A'))!.msg.rcode, 'REFUSED');
  assert.equal((await ask('example.com', 'A'))!.msg.rcode, 'REFUSED');
  const ent = (await ask('_tcp.ssh.hosta.gwa.demo', 'A'))!.msg;
  assert.equal(ent.rcode, 'NOERROR', 'empty non-terminal is NODATA');
  const cname = (await ask('alias.gwa.demo', 'A'))!.msg;
  assert.deepEqual(cname.answers!.map((a) => a.type), ['CNAME', 'A']);
});

test('pool PTR and forward names; LAN PTR and private addresses', async () => {
  const wan = setup('wan');
  const ptr = (await wan.ask('131.1.64.100.in-addr.arpa', 'PTR'))!.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(ptr.data, 'pool-100-64-1-131.gwa.demo');
  assert.equal(((await wan.ask('pool-100-64-1-131.gwa.demo', 'A'))!.msg.answers![0] as dnsPacket.StringAnswer).data, '100.64.1.131');
  assert.equal((await wan.ask('100.0.168.192.in-addr.arpa', 'PTR'))!.msg.rcode, 'NXDOMAIN', 'private names stay private');
  const lan = setup('lan');
  const a = (await lan.ask('www.hosta.gwa.demo', 'A'))!.msg;
  assert.equal((a.answers![0] as dnsPacket.StringAnswer).data, '192.168.0.100');
  assert.ok(a.flag_ra);
  assert.equal(lan.pool.stats.live, 0, 'LAN queries never allocate');
  const lptr = (await lan.ask('100.0.168.192.in-addr.arpa', 'PTR'))!.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(lptr.data, 'hosta.gwa.demo');
});

test('EDNS: OPT echoed, large answers truncated over UDP to the client size, whole over TCP', async () => {
  const { ask } = setup();
  const small = (await ask('big.gwa.demo', 'TXT', { edns: 1232 }))!;
  assert.ok(small.msg.flag_tc);
  assert.equal(small.msg.answers!.length, 0);
  assert.ok(small.buf.length <= 1232);
  assert.equal(small.msg.additionals![0].type, 'OPT');
  const noEdns = (await ask('big.gwa.demo', 'TXT'))!;
  assert.ok(noEdns.msg.flag_tc && noEdns.buf.length <= 512);
  const big = (await ask('big.gwa.demo', 'TXT', { edns: 4096 }))!;
  assert.ok(big.msg.flag_tc, 'our own limit (1232) wins over a larger client size');
  const tcp = (await ask('big.gwa.demo', 'TXT', { transport: 'tcp', edns: 1232 }))!;
  assert.ok(!tcp.msg.flag_tc);
  assert.equal(tcp.msg.answers!.length, 1);
  assert.ok(tcp.buf.length > 2000);
});

test('cached answers still echo each query\'s ID and case', async () => {
  const { ask, metrics } = setup();
  await ask('NS1.gwa.demo', 'A');
  const r = (await ask('ns1.GWA.DEMO', 'A'))!.msg;
  assert.equal(metrics.cacheHits, 1);
  assert.equal(r.questions![0].name, 'ns1.GWA.DEMO');
  assert.equal(r.answers![0].name, 'ns1.GWA.DEMO');
});

test('malformed: FORMERR with the ID when the header is readable, silence otherwise, never a throw', async () => {
  const { ask } = setup();
  const bad = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0]);
  const r = (await ask('', '', { raw: bad }))!;
  assert.equal(r.msg.id, 0x1234);
  assert.equal(r.msg.rcode, 'FORMERR');
  assert.equal(await ask('', '', { raw: Buffer.from([1, 2, 3]) }), undefined);
});

test('an asynchronous data-plane step delays the answer; when it fails the reservation is cancelled', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const ok = setup('wan', () => gate);
  const pending = ok.ask('www.hosta.gwa.demo', 'A');
  let answered = false;
  void pending.then(() => (answered = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(answered, false, 'no answer before the kernel has the reservation');
  release();
  assert.equal(((await pending)!.msg.answers![0] as dnsPacket.StringAnswer).data, '100.64.1.131');

  const failing = setup('wan', () => Promise.reject(new Error('nft said no')));
  assert.equal(await failing.ask('www.hosta.gwa.demo', 'A'), undefined, 'UDP: silence');
  assert.equal(failing.pool.stats.live, 0);
  assert.equal(failing.pool.stats.cancelled, 1);
  assert.equal(failing.metrics.kernelFailed, 1);
  const tcp = (await failing.ask('www.hosta.gwa.demo', 'A', { transport: 'tcp' }))!.msg;
  assert.equal(tcp.answers!.length, 0, 'TCP: empty answer');
});

test('a question with a compression pointer into its own label is answered FORMERR, not thrown', async () => {
  const { ask, metrics } = setup();
  const r = (await ask('', '', { raw: Buffer.from('123401000001000000000000' + '0100c00d' + '00010001', 'hex') }))!;
  assert.equal(r.msg.id, 0x1234);
  assert.equal(r.msg.rcode, 'FORMERR');
  assert.equal(metrics.malformed, 1);
});

test('draining (lame duck): allocating queries REFUSED without a reservation; other names still answered', async () => {
  const { ask, pool, metrics, handler } = setup();
  assert.equal((await ask('www.hosta.gwa.demo', 'A'))!.msg.answers!.length, 1, 'cached allocation before');
  handler.drain();
  for (const transport of ['udp', 'tcp'] as const) {
    const r = (await ask('www.hosta.gwa.demo', 'A', { transport }))!;
    assert.equal(r.msg.rcode, 'REFUSED');
    assert.equal(r.msg.answers!.length, 0);
  }
  assert.equal(metrics.drainingRefused, 2);
  assert.equal(pool.stats.live, 1, 'no new reservation');
  assert.equal((await ask('gwa.demo', 'SOA'))!.msg.rcode, 'NOERROR');
});

test('replaceView: the next query is answered from the new view, no cached answer of the old one', async () => {
  const { ask, handler } = setup();
  assert.equal((await ask('www.hosta.gwa.demo', 'A'))!.msg.answers!.length, 1);
  const without = buildViews(zones, hosts.map((h) => ({ ...h, services: h.services.filter((s) => !s.fqdn.startsWith('www.')) })), { serviceAddress: '100.64.1.130', addresses: poolAddrs, nameZone: 'gwa.demo' });
  handler.replaceView(without.wan);
  assert.equal((await ask('www.hosta.gwa.demo', 'A'))!.msg.rcode, 'NXDOMAIN');
});
