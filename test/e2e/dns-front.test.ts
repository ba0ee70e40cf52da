/**
 * The DNS front end to end: a real testbed (five namespaces), the real CLI in the gateway namespace, real
 * UDP and TCP queries from the public side (the Internet) and from a LAN host, with dig and with a probe
 * that can send what dig will not (raw bytes, split TCP writes, pipelining).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Testbed, type NsProcess } from '../support/netns.js';
import type { Answer } from '../support/dns-probe.js';
import { adminGet, probe, startGateway, startUpstream, type RunningGateway } from '../support/gateway.js';
import { makeTempDir, writeTempFile, ZONES_DIR } from '../support/repo.js';
import { until } from '../support/until.js';

const WAN = '100.64.1.130';
const LAN = '192.168.0.1';
const POOL = ['100.64.1.131', '100.64.1.132', '100.64.1.133'];
/** Longer than the 2 s default so that slow CI machines cannot expire a reservation mid-test. */
const LIFETIME_MS = 3000;

let tb: Testbed;
let gw: RunningGateway;
let upstream: NsProcess | undefined;

async function udp(node: 'public' | 'hosta', server: string, name: string, type = 'A', extra: object = {}): Promise<Answer> {
  const [r] = await probe(tb, node, [{ op: 'udp', server, name, type, ...extra }]);
  return r as Answer;
}
async function tcp(node: 'public' | 'hosta', server: string, name: string, type = 'A', extra: object = {}): Promise<Answer> {
  const [r] = await probe(tb, node, [{ op: 'tcp', server, queries: [{ name, type, ...extra }] }]);
  return (r as Answer[])[0];
}
/** Waits until every reservation has expired, so each test starts from an empty pool. */
async function drainPool(): Promise<void> {
  for (let i = 0; i < 80 && (await gw.stats()).pool.live > 0; i++) await sleep(100);
}

describe('DNS front in the testbed', { timeout: 180_000 }, () => {
  before(async () => {
    tb = await Testbed.up();
    // The shipped zones plus one with an answer too large for UDP, to prove truncation and TCP fallback.
    const zones = await makeTempDir('zones');
    for (const f of await readdir(ZONES_DIR)) await copyFile(path.join(ZONES_DIR, f), path.join(zones, f));
    const txt = Array.from({ length: 12 }, (_, i) => `"${String(i).padEnd(200, 'x')}"`).join(' ');
    await writeTempFile('big.test.zone', `$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A ${WAN}\nlarge TXT ${txt}\n`, { dir: zones });
    upstream = await startUpstream(tb, 'public', '100.64.0.100');
        // The first forwarder is an address nobody answers on: every other forwarded query has to retry.
    const forwarders = [{ address: '100.64.0.99', port: 53 }, { address: '100.64.0.100', port: 53 }];
    gw = await startGateway(tb, {
      // UDP allocation semantics (exhaustion, caps, SRV) from one client: the abuse defences are off here and
      // proven in test/e2e/defences.test.ts.
      pbra: null,
      zones,
      pool: { lifetimeMs: LIFETIME_MS },
      dns: { tcpIdleTimeoutMs: 1500, lan: { forwarders, forwardTimeoutMs: 400, forwardAttempts: 2 } },
    });
  });
  after(async () => {
    await tb?.down();
  });

  test('WAN: dig from the Internet gets a pool address, TTL 0, authoritative (UDP and TCP)', async () => {
    await drainPool();
    const r = await tb.exec('public', 'dig', ['+norec', `@${WAN}`, 'web.hosta.gwa.demo', 'A']);
    assert.match(r.stdout, /flags: qr aa;/);
    const line = r.stdout.split('\n').find((l) => /^web\.hosta\.gwa\.demo\.\s/.test(l));
    assert.ok(line, r.stdout);
    const [, ttl, , , addr] = line.split(/\s+/);
    assert.equal(ttl, '0');
    assert.ok(POOL.includes(addr), `${addr} is a pool address`);
    const t = await tb.exec('public', 'dig', ['+tcp', '+short', `@${WAN}`, 'ssh.hostb.gwa.demo']);
    assert.ok(POOL.includes(t.stdout.trim()), t.stdout);
    assert.equal((await gw.stats()).pool.reserved >= 2, true);
  });

  test('WAN: pool of 3 exhausts (UDP silent, TCP empty after a retry, both counted) and recovers on expiry', async () => {
    await drainPool();
    const before = await gw.stats();
    // Same key (tcp/80) on three names: one address each, then the pool has no room for that key. One probe
    // run does it all, well inside the reservation lifetime.
    const q = (name: string) => ({ op: 'udp' as const, server: WAN, name, type: 'A', timeoutMs: 500 });
    const [a1, a2, a3, dropped, emptyRun, ssh] = await probe(tb, 'public', [
      q('web.hosta.gwa.demo'),
      q('web.hostb.gwa.demo'),
      q('web.hosta.gwa.demo'),
      q('web.hostb.gwa.demo'),
      { op: 'tcp', server: WAN, queries: [{ name: 'web.hostb.gwa.demo', type: 'A' }] },
      q('ssh.hostb.gwa.demo'),
    ]);
    const got = [a1, a2, a3].map((a) => {
      assert.equal((a as Answer).answers?.length, 1, JSON.stringify(a));
      return (a as Answer).answers![0].data;
    });
    assert.deepEqual([...got].sort(), POOL, 'circular pool hands out each address once');
    assert.equal((dropped as Answer).timeout, true, 'exhausted over UDP: no answer');
    const empty = (emptyRun as Answer[])[0];
    assert.equal(empty.rcode, 'NOERROR');
    assert.equal(empty.answers?.length, 0);
    assert.equal(empty.authorities?.length, 0);
    assert.equal((ssh as Answer).answers?.length, 1, 'a different key still fits on an address holding tcp/80');
    const after = await gw.stats();
    assert.equal(after.dns.wan.exhaustedUdpDropped - before.dns.wan.exhaustedUdpDropped, 1);
    assert.equal(after.dns.wan.exhaustedTcpEmpty - before.dns.wan.exhaustedTcpEmpty, 1);
    assert.ok(after.pool.exhausted > before.pool.exhausted);
    await until('the reservations expire', async () => (await gw.stats()).pool.live === 0);
    const again = await udp('public', WAN, 'web.hostb.gwa.demo');
    assert.equal(again.answers?.length, 1, 'expired reservations return their addresses');
    assert.ok((await gw.stats()).pool.expired >= 3);
  });

  test('WAN: CIRCULARPOOL max caps a host while the pool still has room; per-name lifetimes apply', async () => {
    await drainPool();
    const before = await gw.stats();
    const q = (name: string) => ({ op: 'udp' as const, server: WAN, name, type: 'A', timeoutMs: 500 });
    // hosta has max 3: tcp/any, udp/any and icmp fill its quota; ssh would still fit in the pool.
    const [tcpA, udpA, icmpA, sshA, webB] = (await probe(tb, 'public', [
      q('tcp.hosta.gwa.demo'),
      q('udp.hosta.gwa.demo'),
      q('icmp.hosta.gwa.demo'),
      q('ssh.hosta.gwa.demo'),
      q('web.hostb.gwa.demo'),
    ])) as Answer[];
    for (const a of [tcpA, udpA, icmpA, webB]) assert.equal(a.answers?.length, 1, JSON.stringify(a));
    assert.equal(sshA.timeout, true, 'fourth pending reservation for hosta is refused');
    const after = await gw.stats();
    assert.equal(after.pool.hostLimited - before.pool.hostLimited, 1);
    assert.equal(after.pool.exhausted, before.pool.exhausted, 'refused by the host cap, not by the pool');
    // web.hosta has `lifetime: 5` in its policy, longer than the configured default.
    // Reserved first, it still expires after a name with the default lifetime reserved right behind it.
    await drainPool();
    await udp('public', WAN, 'web.hosta.gwa.demo');
    await udp('public', WAN, 'udp.hostb.gwa.demo');
    const live = (await adminGet(gw.adminSocket, '/reservations')) as { service: string; expiresInMs: number }[];
    const web = live.find((r) => r.service === 'web.hosta.gwa.demo');
    const plain = live.find((r) => r.service === 'udp.hostb.gwa.demo');
    assert.ok(web && plain && web.expiresInMs > plain.expiresInMs, JSON.stringify(live));
  });

  test('WAN: authoritative answers — apex SOA/NS, NODATA and NXDOMAIN with SOA, REFUSED outside, case echoed', async () => {
    const [soa, ns, aaaa, nx, outside, evil, mixed] = (await probe(tb, 'public', [
      { op: 'udp', server: WAN, name: 'gwa.demo', type: 'SOA' },
      { op: 'udp', server: WAN, name: 'gwa.demo', type: 'NS' },
      { op: 'udp', server: WAN, name: 'web.hosta.gwa.demo', type: 'AAAA' },
      { op: 'udp', server: WAN, name: 'nosuch.gwa.demo', type: 'A' },
      { op: 'udp', server: WAN, name: 'example.com', type: 'A' },
      { op: 'udp', server: WAN, name: 'evilgwa.demo', type: 'A' },
      { op: 'udp', server: WAN, name: 'Gw.GwA.DeMo', type: 'A' },
    ])) as Answer[];
    assert.equal(soa.answers?.[0].type, 'SOA');
    assert.ok(soa.aa);
    assert.equal(ns.answers?.[0].type, 'NS');
    assert.equal(aaaa.rcode, 'NOERROR');
    assert.equal(aaaa.answers?.length, 0);
    assert.equal(aaaa.authorities?.[0].type, 'SOA');
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.authorities?.[0].type, 'SOA');
    assert.equal(outside.rcode, 'REFUSED');
    assert.equal(evil.rcode, 'REFUSED', 'label-aware: evilgwa.demo is not in gwa.demo');
    assert.equal(mixed.question, 'Gw.GwA.DeMo');
    assert.equal(mixed.answers?.[0].name, 'Gw.GwA.DeMo');
    assert.equal(mixed.answers?.[0].data, WAN);
  });

  test('WAN: SRV and TXT for a service name; PTR for pool addresses', async () => {
    await drainPool();
    const [srv, txt, ptr] = (await probe(tb, 'public', [
      { op: 'udp', server: WAN, name: 'ssh.hosta.gwa.demo', type: 'SRV' },
      { op: 'udp', server: WAN, name: 'ssh.hosta.gwa.demo', type: 'TXT' },
      { op: 'udp', server: WAN, name: '132.1.64.100.in-addr.arpa', type: 'PTR' },
    ])) as Answer[];
    assert.deepEqual(srv.answers?.[0].data, { priority: 10, weight: 100, port: 22, target: '_22._tcp.ssh.hosta.gwa.demo' });
    assert.equal(srv.additionals?.[0].name, '_22._tcp.ssh.hosta.gwa.demo');
    assert.ok(POOL.includes(srv.additionals?.[0].data as string));
    assert.deepEqual(txt.answers?.[0].data, ['proxy_required=false', 'protocol=tcp', 'port=22']);
    assert.equal(ptr.answers?.[0].data, 'pool-100-64-1-132.gwa.demo');
  });

  test('EDNS0: truncation to the client size over UDP, whole answer over TCP', async () => {
    const [plain, edns] = (await probe(tb, 'public', [
      { op: 'udp', server: WAN, name: 'large.big.test', type: 'TXT' },
      { op: 'udp', server: WAN, name: 'large.big.test', type: 'TXT', edns: 1232 },
    ])) as Answer[];
    assert.ok(plain.tc && plain.bytes! <= 512 && plain.answers!.length === 0);
    assert.ok(edns.tc && edns.bytes! <= 1232);
    assert.equal(edns.additionals?.find((a) => a.type === 'OPT')?.type, 'OPT');
    const full = await tcp('public', WAN, 'large.big.test', 'TXT', { edns: 1232 });
    assert.ok(!full.tc);
    assert.equal((full.answers?.[0].data as string[]).length, 12);
    const dig = await tb.exec('public', 'dig', [`@${WAN}`, 'large.big.test', 'TXT', '+bufsize=1232']);
    assert.match(dig.stdout, /Truncated, retrying in TCP mode/);
    assert.match(dig.stdout, /ANSWER: 1,/);
  });

  test('TCP: byte-by-byte writes, pipelined queries on one connection, idle timeout', async () => {
    const [split] = (await probe(tb, 'public', [
      { op: 'tcp', server: WAN, byteByByte: true, queries: [{ name: 'gw.gwa.demo', type: 'A', id: 1 }, { name: 'gwa.demo', type: 'SOA', id: 2 }] },
    ])) as Answer[][];
    assert.deepEqual(split.map((a) => a.id).sort(), [1, 2]);
    const many = Array.from({ length: 20 }, (_, i) => ({ name: i % 2 ? 'gw.gwa.demo' : 'nosuch.gwa.demo', type: 'A', id: 100 + i }));
    const [piped] = (await probe(tb, 'public', [{ op: 'tcp', server: WAN, queries: many }])) as Answer[][];
    assert.equal(piped.length, 20);
    for (const a of piped) assert.equal(a.rcode, (a.id! - 100) % 2 ? 'NOERROR' : 'NXDOMAIN');
    // A silent connection is closed by the gateway (tcpIdleTimeoutMs); the probe would give up after 10 s.
    const [idle] = (await probe(tb, 'public', [{ op: 'tcp-idle', server: WAN, waitMs: 10_000 }])) as { closedAfterMs: number | null }[];
    assert.notEqual(idle.closedAfterMs, null, 'the gateway closed the idle connection');
  });

  test('malformed packets: FORMERR or silence, never a crash', async () => {
    const query = (hex: string) => ({ op: 'udp' as const, server: WAN, name: '', type: 'A', raw: hex, timeoutMs: 400 });
    const results = (await probe(tb, 'public', [
      query('1234'), // shorter than a header: dropped
      query('abcd01000002000000000000'), // two questions, none present: FORMERR
      query('beef0100000100000000000003777777c0'), // truncated name: FORMERR
      query('000281000001000000000000000001' + '0001'), // QR set: a response, dropped (answering it invites loops)
      query('123401000001000000000000' + '0100c00d' + '00010001'), // question pointer into its own label: FORMERR
    ])) as Answer[];
    assert.equal(results[0].timeout, true);
    assert.equal(results[1].rcode, 'FORMERR');
    assert.equal(results[1].id, 0xabcd);
    assert.equal(results[2].rcode, 'FORMERR');
    assert.equal(results[3].timeout, true);
    assert.equal(results[4].rcode, 'FORMERR');
    assert.equal(results[4].id, 0x1234);
    assert.ok(gw.proc.running, 'gateway still running');
    assert.equal((await udp('public', WAN, 'gw.gwa.demo')).answers?.[0].data, WAN);
  });

  test('LAN: private addresses and PTRs for our zones, never an allocation', async () => {
    const before = (await gw.stats()).pool.reserved;
    const [a, ptr, svc] = (await probe(tb, 'hosta', [
      { op: 'udp', server: LAN, name: 'hostb.gwa.demo', type: 'A' },
      { op: 'udp', server: LAN, name: '101.0.168.192.in-addr.arpa', type: 'PTR' },
      { op: 'tcp', server: LAN, queries: [{ name: 'web.hostb.gwa.demo', type: 'A' }] },
    ])) as [Answer, Answer, Answer[]];
    assert.equal(a.answers?.[0].data, '192.168.0.101');
    assert.ok(a.aa);
    assert.equal(ptr.answers?.[0].data, 'hostb.gwa.demo');
    assert.equal(svc[0].answers?.[0].data, '192.168.0.101');
    assert.equal((await gw.stats()).pool.reserved, before);
  });

  test('LAN: a client outside the LAN network gets no answer (UDP or TCP), counted; LAN hosts still do', async () => {
    const before = (await gw.stats()).dns.lan.clientNotAllowed;
    // From the gateway's own namespace with its WAN address as source: the LAN listener is reachable, not allowed.
    for (const transport of ['+notcp', '+tcp']) {
      const r = await tb.exec('gwa', 'dig', ['-b', WAN, `@${LAN}`, transport, '+tries=1', '+time=1', 'hostb.gwa.demo'], { check: false, timeoutMs: 10_000 });
      assert.doesNotMatch(r.stdout, /status: NOERROR/, transport);
    }
    assert.ok((await gw.stats()).dns.lan.clientNotAllowed - before >= 2);
    assert.equal((await udp('hosta', LAN, 'hostb.gwa.demo')).answers?.[0].data, '192.168.0.101');
  });

  test('LAN: other names are forwarded (UDP and TCP); SERVFAIL when no upstream answers', async () => {
    const before = (await gw.stats()).dns.lan;
    const viaUdp = await udp('hosta', LAN, 'www.example.test');
    assert.equal(viaUdp.rcode, 'NOERROR');
    assert.equal(viaUdp.answers?.[0].data, '198.51.100.7');
    const viaTcp = await tcp('hosta', LAN, 'mail.example.test');
    assert.equal(viaTcp.answers?.[0].data, '198.51.100.7');
    const dig = await tb.exec('hosta', 'dig', ['+short', `@${LAN}`, 'dig.example.test']);
    assert.equal(dig.stdout.trim(), '198.51.100.7');
    const mid = (await gw.stats()).dns.lan;
    assert.equal(mid.forwarded - before.forwarded, 3);
    assert.ok(mid.forwardAttemptsFailed - before.forwardAttemptsFailed >= 1, 'the dead first forwarder was tried and skipped');
    await upstream!.stop();
    const fail = await udp('hosta', LAN, 'gone.example.test', 'A', { timeoutMs: 3000 });
    assert.equal(fail.rcode, 'SERVFAIL');
    assert.ok((await gw.stats()).dns.lan.forwardFailed >= 1);
  });
});
