/**
 * The abuse defences of the shipped demo config, end to end in the testbed with real clients: no reservation
 * without a proof of the requester's address (dig's cookies, TC=1 then TCP), reservations bound to the EDNS
 * Client Subnet (a first packet from elsewhere is refused and does not consume it), the /reputation view, and
 * Realm Gateway's own circularpool.policy.yaml as the policy. Behaviour only; the attack phases and their
 * success rates are test/e2e/attack.test.ts and `npm run bench`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ADDR, POOL, Testbed, type NsProcess } from '../support/netns.js';
import type { Answer } from '../support/dns-probe.js';
import { adminGet, probe, startGateway, type RunningGateway } from '../support/gateway.js';
import { DIST_DIR, REPO_ROOT } from '../support/repo.js';
import { startUnbound } from '../support/unbound.js';

const WAN = ADDR.gwaWan;
/** A second client on the public side, in its own /24 (routed there by the router): the subnet we bind to. */
const BOUND_CLIENT = '100.64.3.100';

interface Defences {
  challenges: { badcookie: number; cname: number; tc: number };
  proofs: { tcp: number; cookie: number; cname: number };
  refused: { unproven: number; tier: number; budget: number };
  bound: number;
}
type Stats = Awaited<ReturnType<RunningGateway['stats']>> & { defences: Defences; dataplane: { stolenRefused?: number; refused: number } };

describe('abuse defences of the demo config, end to end', { timeout: 300_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;
  let server: NsProcess;
  const stats = () => gw.stats() as Promise<Stats>;
  const dig = async (args: string[]) => (await tb.exec('public', 'dig', ['+tries=1', '+time=3', `@${WAN}`, ...args])).stdout;
  const addressIn = (out: string) => out.split('\n').map((l) => l.trim()).find((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
  /** A TCP connection to address:5000 from `source`, saying hello; resolves with the echo or the error code. */
  const connectFrom = async (source: string, address: string) => {
    const script = `const s=require('net').connect({host:'${address}',port:5000,localAddress:'${source}'},()=>s.write('hi\\n'));` +
      `s.setTimeout(3000,()=>{console.log('timeout');process.exit(0)});s.on('data',d=>{console.log('ok');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`;
    return (await tb.exec('public', process.execPath, ['-e', script])).stdout.trim();
  };

  before(async () => {
    tb = await Testbed.up();
    server = tb.spawn('hosta', process.execPath, [path.join(DIST_DIR, 'test', 'support', 'flow-server.js'), '--name', 'hosta', '--tcp', '5000']);
    await server.ready('listening');
    await tb.exec('public', 'ip', ['addr', 'add', `${BOUND_CLIENT}/32`, 'dev', 'eth0'], { check: true });
    await tb.exec('router', 'ip', ['route', 'add', '100.64.3.0/24', 'via', ADDR.public], { check: true });
    gw = await startGateway(tb);
  });
  after(async () => {
    await gw?.proc.stop('SIGTERM', 10_000);
    await tb?.down();
  });

  test('a UDP query without a proof gets TC=1 and no address, and reserves nothing', async () => {
    const before = await stats();
    const [r] = (await probe(tb, 'public', [{ op: 'udp', server: WAN, name: 'tcp.hosta.gwa.demo', type: 'A', edns: 1232 }])) as Answer[];
    assert.equal(r.tc, true);
    assert.deepEqual(r.answers, []);
    const after = await stats();
    assert.equal(after.pool.reserved, before.pool.reserved);
    assert.equal(after.defences.challenges.tc - before.defences.challenges.tc, 1);
  });

  test('dig as shipped (cookies) gets an address: BADCOOKIE, then the server cookie proves it over UDP', async () => {
    const before = await stats();
    const address = addressIn(await dig(['+short', 'tcp.hosta.gwa.demo']));
    assert.ok(address && POOL.includes(address), `dig got ${address}`);
    const after = await stats();
    assert.equal(after.defences.challenges.badcookie - before.defences.challenges.badcookie, 1);
    assert.equal(after.defences.proofs.cookie - before.defences.proofs.cookie, 1);
    assert.equal(after.pool.reserved - before.pool.reserved, 1);
    assert.equal(await connectFrom(ADDR.public, address), 'ok');
  });

  test('dig without cookies follows TC=1 to TCP, which proves it', async () => {
    const before = await stats();
    const address = addressIn(await dig(['+short', '+nocookie', 'tcp.hosta.gwa.demo']));
    assert.ok(address && POOL.includes(address), `dig got ${address}`);
    const after = await stats();
    assert.equal(after.defences.proofs.tcp - before.defences.proofs.tcp, 1);
    assert.equal(await connectFrom(ADDR.public, address), 'ok');
  });

  test('ECS binds the reservation: a first packet from outside the subnet is refused and consumes nothing', async () => {
    const before = await stats();
    // a /32 client subnet is widened to the /24 the gateway binds at most (pbra.ecsPrefixIpv4)
    const address = addressIn(await dig(['+short', '+tcp', `+subnet=${BOUND_CLIENT}/32`, 'tcp.hosta.gwa.demo']));
    assert.ok(address && POOL.includes(address), `dig got ${address}`);
    const live = (await adminGet(gw.adminSocket, '/reservations')) as { boundTo: string | null; address: string }[];
    assert.deepEqual(live.filter((r) => r.address === address).map((r) => r.boundTo), ['100.64.3.0/24']);
    assert.equal(await connectFrom(ADDR.public, address), 'ECONNREFUSED', 'the resolver address itself is outside the subnet');
    assert.equal(await connectFrom(BOUND_CLIENT, address), 'ok', 'the bound client still gets in');
    const after = await stats();
    assert.equal(after.pool.consumed - before.pool.consumed, 1);
    assert.equal(after.defences.bound - before.defences.bound, 1);
  });

  test('/reputation lists the configured resolver group, its members, SLA, reputations and the tiers', async () => {
    const view = (await adminGet(gw.adminSocket, '/reputation')) as {
      groups: { name: string; members: string[]; sla: boolean; reputation: number; current: object; previous: object }[];
      tiers: object[];
    };
    const group = view.groups.find((g) => g.name === 'testbed-resolvers');
    assert.ok(group, JSON.stringify(view.groups));
    assert.deepEqual(group.members, [ADDR.public]);
    assert.equal(group.sla, true);
    assert.ok(group.current && group.previous && typeof group.reputation === 'number');
    assert.equal(view.tiers.length, 4);
  });

  test('the CNAME challenge through Debian\'s Unbound: the resolver follows the one-time alias over UDP and gets an address', async () => {
    await gw.proc.stop('SIGTERM', 10_000);
    gw = await startGateway(tb, { pbra: { proofs: { udp: ['cname', 'tcp'] } } });
    const unbound = await startUnbound(tb, 'public', '127.0.0.1', 'gwa.demo', WAN);
    try {
      const out = (await tb.exec('public', 'dig', ['+tries=2', '+time=3', '@127.0.0.1', 'tcp.hosta.gwa.demo', 'A'])).stdout;
      assert.match(out, /tcp\.hosta\.gwa\.demo\.\s+0\s+IN\s+CNAME\s+[a-z2-7]{8}\.gwa\.demo\./, out);
      const address = /IN\s+A\s+(\d+\.\d+\.\d+\.\d+)/.exec(out)?.[1];
      assert.ok(address && POOL.includes(address), out);
      const s = await stats();
      // at least one: a resolver that retries on a slow answer gets a fresh alias, and that is fine
      assert.ok(s.defences.challenges.cname >= 1 && s.defences.proofs.cname >= 1, JSON.stringify(s.defences));
      assert.equal(s.dns.wan.queriesTcp, 0, 'proven over UDP, no TCP needed');
      assert.equal(await connectFrom(ADDR.public, address), 'ok');
    } finally {
      await unbound.stop('SIGTERM', 5_000);
    }
  });

  test("Realm Gateway's own circularpool.policy.yaml: its groups and tiers appear in /reputation", async () => {
    await gw.proc.stop('SIGTERM', 10_000);
    const rgwPolicy = path.join(REPO_ROOT, 'test', 'fixtures', 'pbra-rgw-demo', 'circularpool.policy.yaml');
    gw = await startGateway(tb, { pbra: { rgwPolicy, proofs: null, groups: null } });
    const view = (await adminGet(gw.adminSocket, '/reputation')) as { groups: { members: string[]; sla: boolean; configured: boolean }[]; tiers: { loadMin: number }[] };
    const members = view.groups.filter((g) => g.configured).map((g) => g.members.join(','));
    assert.deepEqual(members.sort(), ['198.51.100.53', '198.51.100.54', '203.0.113.1,203.0.113.2,203.0.113.3,203.0.113.4']);
    assert.deepEqual(view.tiers.map((t) => t.loadMin).sort((a, b) => a - b), [0, 33, 66, 99]);
  });
});
