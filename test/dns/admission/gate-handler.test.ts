/**
 * The WAN handler with the allocation gate: no reservation without a proof of the requester's address, and
 * each proof (TCP, server cookie, CNAME follow-up) leads to one; ECS binds the reservation to the subnet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import pino from 'pino';
import { CircularPool, type Reservation } from '../../../src/pool/circular-pool.js';
import { buildViews } from '../../../src/dns/authority/views.js';
import { DnsMetrics } from '../../../src/dns/metrics.js';
import { QueryHandler, type Transport } from '../../../src/dns/server/query-handler.js';
import type { AllocationGate } from '../../../src/dns/admission/allocation-gate.js';
import { buildGate } from '../../../src/dns/admission/build-gate.js';
import { pbraSection, resolvePbraSection, type Proof } from '../../../src/pbra/index.js';
import { hosts, poolAddrs, zones } from '../../support/dns-view-fixture.js';

interface Opts {
  udp?: Proof[];
  /** requesterBudget.share */
  share?: number;
}

function settingsOf(o: Opts) {
  const section = pbraSection.parse({ proofs: { udp: o.udp ?? ['cookie', 'cname', 'tcp'] }, cname: { zone: 'gwa.demo', windowMs: 2000 }, requesterBudget: { share: o.share ?? 1 } });
  const resolved = resolvePbraSection(section, '/nonexistent/realmgw.yaml');
  assert.ok(resolved.settings, JSON.stringify(resolved));
  return resolved.settings;
}

function setup(o: Opts = {}) {
  let now = 1000;
  const released: [Reservation, string][] = [];
  let gate: AllocationGate | undefined = undefined;
  const pool = new CircularPool({
    addresses: poolAddrs,
    lifetimeMs: 2000,
    onRelease: (r, why) => {
      released.push([r, why]);
      gate?.released(r, why);
    },
  });
  const views = buildViews(zones, hosts, { serviceAddress: '100.64.1.130', addresses: poolAddrs, nameZone: 'gwa.demo' });
  const metrics = new DnsMetrics();
  gate = buildGate(settingsOf(o), { pool, now: () => now, udpPayloadSize: 1232, defaultAliasZone: 'gwa.demo' });


  const handler = new QueryHandler({
    view: views.wan, pool, metrics, log: pino({ level: 'silent' }), now: () => now, sleep: async () => {}, udpPayloadSize: 1232, tcpRetryMs: 0, gate,
  });
  type Options = { code: number; data: Buffer }[];
  const ask = async (name: string, o2: { transport?: Transport; client?: string; options?: Options; type?: string } = {}) => {
    const packet = dnsPacket.encode({
      type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: (o2.type ?? 'A') as dnsPacket.RecordType, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: o2.options ?? [] } as unknown as dnsPacket.Answer],
    });
    const out = await handler.handle(packet, o2.transport ?? 'udp', o2.client ?? '100.64.0.100');
    if (!out) return undefined;
    const msg = dnsPacket.decode(out) as dnsPacket.DecodedPacket & { rcode: string };
    const opt = msg.additionals?.find((a) => a.type === 'OPT') as unknown as { options: Options; extendedRcode: number } | undefined;
    return { out, packet, msg, opt, cookie: opt?.options.find((x) => x.code === 10)?.data };
  };
  return { ask, pool, gate, metrics, released, advance: (ms: number) => (now += ms) };
}

const ecs = (a: string, prefix: number) => {
  const bytes = a.split('.').map(Number).slice(0, Math.ceil(prefix / 8));
  const data = Buffer.alloc(4 + bytes.length);
  data.writeUInt16BE(1, 0);
  data[2] = prefix;
  Buffer.from(bytes).copy(data, 4);
  return { code: 8, data };
};

test('an unproven UDP query reserves nothing: it gets TC=1, within 1.5x of its size', async () => {
  const { ask, pool, gate } = setup({ udp: ['tcp'] });
  const r = (await ask('www.hosta.gwa.demo', { client: '198.51.100.7' }))!;
  assert.ok(r.msg.flag_tc);
  assert.equal(r.msg.answers!.length, 0);
  assert.ok(r.out.length <= r.packet.length * 1.5);
  assert.equal(pool.stats.reserved, 0);
  assert.equal(gate.stats.challenges.tc, 1);
  assert.equal(gate.stats.refused.unproven, 1);
});

test('TCP proves the address: the same query over TCP reserves', async () => {
  const { ask, pool, gate } = setup({ udp: ['tcp'] });
  const r = (await ask('www.hosta.gwa.demo', { transport: 'tcp' }))!;
  assert.equal((r.msg.answers![0] as dnsPacket.StringAnswer).data, '100.64.1.131');
  assert.equal(pool.stats.reserved, 1);
  assert.equal(gate.stats.proofs.tcp, 1);
});

test('cookies: client cookie only -> BADCOOKIE with a server cookie; echoing it over UDP reserves; another address cannot use it', async () => {
  const { ask, pool, gate } = setup();
  const client = Buffer.from('0011223344556677', 'hex');
  const first = (await ask('www.hosta.gwa.demo', { options: [{ code: 10, data: client }] }))!;
  assert.equal(first.out.readUInt16BE(2) & 0xf, 23 & 0xf);
  assert.equal(first.opt!.extendedRcode, 1);
  assert.equal(first.cookie!.length, 24);
  assert.equal(pool.stats.reserved, 0);
  const stolen = (await ask('www.hosta.gwa.demo', { client: '203.0.113.9', options: [{ code: 10, data: first.cookie! }] }))!;
  assert.equal(stolen.msg.answers!.length, 0, 'a cookie minted for another address proves nothing');
  assert.equal(pool.stats.reserved, 0);
  const second = (await ask('www.hosta.gwa.demo', { options: [{ code: 10, data: first.cookie! }] }))!;
  assert.equal(second.msg.rcode, 'NOERROR');
  assert.equal((second.msg.answers![0] as dnsPacket.StringAnswer).data, '100.64.1.131');
  assert.equal(pool.stats.reserved, 1);
  assert.equal(gate.stats.proofs.cookie, 1);
  assert.equal(gate.stats.cookiesInvalid, 1);
});

test('CNAME challenge: the follow-up for the alias reserves once; a replay or a guess gets NXDOMAIN', async () => {
  const { ask, pool, gate, advance } = setup({ udp: ['cname', 'tcp'] });
  const r = (await ask('www.hosta.gwa.demo'))!;
  const cname = r.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(cname.type, 'CNAME');
  assert.equal(cname.ttl, 0);
  assert.match(cname.data, /^[a-z2-7]{8}\.gwa\.demo$/);
  assert.equal(pool.stats.reserved, 0);
  advance(500);
  const follow = (await ask(cname.data, { client: '100.64.0.101' }))!;
  const a = follow.msg.answers![0] as dnsPacket.StringAnswer;
  assert.deepEqual([a.name, a.type, a.data], [cname.data, 'A', '100.64.1.131']);
  assert.equal(pool.stats.reserved, 1);
  assert.equal(gate.stats.proofs.cname, 1);
  const replay = (await ask(cname.data))!;
  assert.equal(replay.msg.rcode, 'NXDOMAIN');
  assert.equal((await ask('abcdefgh.gwa.demo'))!.msg.rcode, 'NXDOMAIN');
  assert.equal(pool.stats.reserved, 1);
  assert.equal(gate.stats.aliasesUnknown, 2);
});

test('CNAME challenge for SRV: the follow-up answers under the alias; the address stays with the SRV target', async () => {
  const { ask, pool } = setup({ udp: ['cname', 'tcp'] });
  const target = '_80._tcp.www.hosta.gwa.demo';
  const r = (await ask(target, { type: 'SRV' }))!;
  const cname = r.msg.answers![0] as dnsPacket.StringAnswer;
  assert.equal(cname.type, 'CNAME');
  const follow = (await ask(cname.data, { type: 'SRV' }))!;
  const srv = follow.msg.answers![0] as dnsPacket.SrvAnswer;
  assert.deepEqual([srv.name, srv.type, srv.data.target, srv.data.port], [cname.data, 'SRV', target, 80]);
  const glue = follow.msg.additionals!.filter((rr) => rr.type === 'A') as dnsPacket.StringAnswer[];
  assert.deepEqual(glue.map((rr) => [rr.name, rr.data]), [[target, '100.64.1.131']]);
  assert.equal(pool.stats.reserved, 1);
});

test('a CNAME challenge that would exceed 1.5x of the query falls back to TC=1', async () => {
  const { ask, gate } = setup({ udp: ['cname', 'tcp'] });
  const r = (await ask('hosta.gwa.demo'))!; // short name: the alias record is too large a share
  assert.ok(r.msg.flag_tc);
  assert.equal(gate.stats.challenges.cname, 0);
});

test('ECS binds the reservation to the client subnet (widened to /24) and counts it', async () => {
  const { ask, pool, gate } = setup();
  await ask('www.hosta.gwa.demo', { transport: 'tcp', options: [ecs('203.0.113.77', 32)] });
  const [r] = pool.live();
  assert.deepEqual(r!.source, { network: ((203 << 24) | (0 << 16) | (113 << 8)) >>> 0, prefixLength: 24 });
  assert.equal(gate.stats.bound, 1);
  assert.equal(pool.consume({ dst: r!.address, protocol: 6, port: 80, src: ((198 << 24) | (51 << 16) | (100 << 8) | 1) >>> 0 }, 1100), undefined);
  assert.ok(pool.consume({ dst: r!.address, protocol: 6, port: 80, src: ((203 << 24) | (113 << 8) | 5) >>> 0 }, 1100));
});

test('PBRA: the requester budget refuses a second live reservation (UDP silent, TCP empty at once); an unused one counts against its requester', async () => {
  const { ask, pool, gate, advance } = setup({ share: 0.34 }); // 3 addresses -> 1 live reservation per requester
  assert.equal((await ask('www.hosta.gwa.demo', { transport: 'tcp' }))!.msg.answers!.length, 1);
  const refused = (await ask('ssh.hosta.gwa.demo', { transport: 'tcp' }))!;
  assert.equal(refused.msg.answers!.length, 0);
  assert.equal(gate.stats.refused.budget, 1);
  assert.equal((await ask('ssh.hosta.gwa.demo', { transport: 'tcp', client: '100.64.0.5' }))!.msg.answers!.length, 1, 'another requester is served');
  advance(5000);
  pool.expire(6000);
  assert.equal((await ask('ssh.hosta.gwa.demo', { transport: 'tcp' }))!.msg.answers!.length, 1, 'the budget comes back when the reservation ends');
  const view = gate.view()!;
  const row = view.requesters.find((r) => r.requester === '100.64.0.100')!;
  assert.ok(row, JSON.stringify(view));
  assert.equal(row.current.nok, 1);
});

test('answers carry a fresh server cookie and echo ECS with scope 0', async () => {
  const { ask } = setup();
  const client = Buffer.from('8899aabbccddeeff', 'hex');
  const first = (await ask('www.hosta.gwa.demo', { options: [{ code: 10, data: client }, ecs('203.0.113.77', 24)] }))!;
  const proven = (await ask('www.hosta.gwa.demo', { options: [{ code: 10, data: first.cookie! }, ecs('203.0.113.77', 24)] }))!;
  assert.equal(proven.msg.answers!.length, 1);
  assert.equal(proven.cookie!.length, 24);
  assert.deepEqual(proven.cookie!.subarray(0, 8), client);
  const echoed = proven.opt!.options.find((o) => o.code === 8)!.data;
  assert.deepEqual([echoed.readUInt16BE(0), echoed[2], echoed[3], [...echoed.subarray(4)]], [1, 24, 0, [203, 0, 113]]);
  const soa = (await ask('gwa.demo', { type: 'SOA', options: [ecs('203.0.113.77', 24)] }))!;
  const e2 = soa.opt!.options.find((o) => o.code === 8)!.data;
  assert.equal(e2[3], 0, 'a zone answer holds for every subnet');
});
