/**
 * Static forwards end to end (issue 10; NOTES §7, the convergent-gateway note): from the Internet side, an
 * HTTP request, a long-lived bidirectional TCP session (SSH-like) and a bidirectional UDP exchange (NTP-like,
 * the host answering from its port) through fixed public ports of the service address. Each with `dnat` to a
 * host that routes through the gateway (it sees the client's address), and toward hostc, whose default route
 * points elsewhere: there plain DNAT visibly fails (its replies never come back) and FULL-NAT works (it sees
 * the gateway's inner address and answers it). Also: a range maps one to one, allowFrom keeps others out,
 * `realmgw rules` shows the forwards, and stop removes them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ADDR, Testbed } from '../support/netns.js';
import { adminGet, startGateway, type RunningGateway } from '../support/gateway.js';
import { cliCommand, REPO_ROOT } from '../support/repo.js';

const WAN = ADDR.gwaWan;
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');

const rule = (name: string, protocol: string, port: number | [number, number], to: string, toPort: number, extra: object = {}) => ({ name, protocol, port, to: { address: to, port: toPort }, ...extra });
const FORWARDS = {
  innerAddress: ADDR.gwaLan,
  rules: [
    rule('http-a', 'tcp', 8081, ADDR.hosta, 80),
    rule('http-c-dnat', 'tcp', 8082, ADDR.hostc, 80),
    rule('http-c-fullnat', 'tcp', 8083, ADDR.hostc, 80, { mode: 'fullnat' }),
    rule('ssh-a', 'tcp', 2222, ADDR.hosta, 22),
    rule('ssh-c-dnat', 'tcp', 2223, ADDR.hostc, 22),
    rule('ssh-c-fullnat', 'tcp', 2224, ADDR.hostc, 22, { mode: 'fullnat' }),
    rule('ntp-a', 'udp', 1123, ADDR.hosta, 123),
    rule('ntp-c-dnat', 'udp', 1124, ADDR.hostc, 123),
    rule('ntp-c-fullnat', 'udp', 1125, ADDR.hostc, 123, { mode: 'fullnat' }),
    rule('range-b', 'tcp', [6000, 6002], ADDR.hostb, 7000),
    rule('closed-a', 'tcp', 8090, ADDR.hosta, 80, { allowFrom: ['203.0.113.0/24'] }),
  ],
};

describe('static forwards', { timeout: 300_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;

  const client = async (job: object) => {
    const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'forward-client.js')], { input: JSON.stringify(job), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { ok: boolean; error?: string; status?: number; body?: string; exchanges?: number; saw?: string; from?: string };
  };
  const serve = async (node: 'hosta' | 'hostb' | 'hostc', args: string[]) => {
    const p = tb.spawn(node, process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', node, ...args]);
    await p.ready('listening');
  };

  before(async () => {
    tb = await Testbed.up();
    for (const h of ['hosta', 'hostc'] as const) await serve(h, ['--http', '80', '--hold', '22', '--udp', '123']);
    await serve('hostb', ['--tcp', '7000,7001,7002']);
    gw = await startGateway(tb, { pbra: null, forwards: FORWARDS });
  });
  after(async () => {
    await tb?.down();
  });

  test('HTTP: dnat shows the client to the host; toward a host routed elsewhere only fullnat works', async () => {
    const a = await client({ op: 'http', address: WAN, port: 8081, path: '/a' });
    assert.ok(a.ok, JSON.stringify(a));
    assert.match(a.body!, new RegExp(`^hosta saw ${ADDR.public}:\\d+ GET /a$`));
    const dnat = await client({ op: 'http', address: WAN, port: 8082, path: '/c' });
    assert.deepEqual({ ok: dnat.ok, error: dnat.error }, { ok: false, error: 'timeout' }, 'hostc answers the client by its own default route, which leads nowhere');
    const full = await client({ op: 'http', address: WAN, port: 8083, path: '/c' });
    assert.ok(full.ok, JSON.stringify(full));
    assert.match(full.body!, new RegExp(`^hostc saw ${ADDR.gwaLan}:\\d+ GET /c$`));
  });

  test('a long-lived bidirectional TCP session (SSH-like): 300 exchanges on one connection', async () => {
    const a = await client({ op: 'session', address: WAN, port: 2222, exchanges: 300 });
    assert.deepEqual(a, { ok: true, exchanges: 300, saw: ADDR.public });
    const dnat = await client({ op: 'session', address: WAN, port: 2223, exchanges: 300 });
    assert.deepEqual({ ok: dnat.ok, exchanges: dnat.exchanges, error: dnat.error }, { ok: false, exchanges: 0, error: 'timeout' });
    const full = await client({ op: 'session', address: WAN, port: 2224, exchanges: 300 });
    assert.deepEqual(full, { ok: true, exchanges: 300, saw: ADDR.gwaLan });
  });

  test('a bidirectional UDP exchange (NTP-like): every answer comes back from the public address and port', async () => {
    const a = await client({ op: 'udp', address: WAN, port: 1123, exchanges: 20 });
    assert.deepEqual(a, { ok: true, exchanges: 20, from: `${WAN}:1123`, saw: ADDR.public });
    const dnat = await client({ op: 'udp', address: WAN, port: 1124, exchanges: 20 });
    assert.deepEqual({ ok: dnat.ok, exchanges: dnat.exchanges, error: dnat.error }, { ok: false, exchanges: 0, error: 'timeout' });
    const full = await client({ op: 'udp', address: WAN, port: 1125, exchanges: 20 });
    assert.deepEqual(full, { ok: true, exchanges: 20, from: `${WAN}:1125`, saw: ADDR.gwaLan });
  });

  test('a port range maps one to one; allowFrom refuses other sources', async () => {
    for (const [port, want] of [[6000, 7000], [6001, 7001], [6002, 7002]] as const) {
      const r = JSON.parse(
        (await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify({ op: 'connect', address: WAN, proto: 'tcp', port, payload: String(want) }) })).stdout,
      ) as { ok: boolean; reply?: string };
      assert.ok(r.ok, JSON.stringify(r));
      assert.match(r.reply!, new RegExp(`^hostb saw ${ADDR.public}:\\d+ ${want}$`));
    }
    const closed = await client({ op: 'http', address: WAN, port: 8090 });
    assert.deepEqual({ ok: closed.ok, error: closed.error }, { ok: false, error: 'ECONNREFUSED' }, 'not DNATed: the gateway itself has nothing on 8090');
  });

  test('the forwards are in realmgw\'s table, counted, and shown by `realmgw rules`', async () => {
    const nft = (await tb.exec('gwa', 'nft', ['-j', 'list', 'counters', 'table', 'ip', 'realmgw'], { check: true })).stdout;
    const counters = new Map<string, { packets: number; bytes: number }>();
    for (const item of (JSON.parse(nft) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] }).nftables) {
      if (item.counter) counters.set(item.counter.name, item.counter);
    }
    assert.ok(counters.get('fwd_ssh_a_new')!.packets >= 1, 'one connection at least');
    assert.ok(counters.get('fwd_ssh_a_traffic')!.packets >= 600, '300 exchanges both ways');
    assert.equal(counters.get('fwd_closed_a_new')!.packets, 0, 'refused sources are never DNATed');
    // the same counters per forward in /stats and the admin's /forwards listing
    const stats = (await gw.stats()) as unknown as { forwards: { name: string; public: string; private: string; mode: string; connections: number; packets: number }[] };
    const ssh = stats.forwards.find((f) => f.name === 'ssh-a')!;
    assert.deepEqual({ public: ssh.public, private: ssh.private, mode: ssh.mode }, { public: `${WAN}:2222`, private: `${ADDR.hosta}:22`, mode: 'dnat' });
    assert.equal(ssh.connections, counters.get('fwd_ssh_a_new')!.packets);
    assert.ok(ssh.packets >= 600);
    const table = await tb.exec('gwa', cliCommand(['forwards', '--config', gw.configFile]).cmd, cliCommand(['forwards', '--config', gw.configFile]).args);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ssh-a +tcp +100\.64\.1\.130:2222 +192\.168\.0\.100:22 +dnat +any +\d+ +\d+ +\d+$/m);
    const listed = (await adminGet(gw.adminSocket, '/forwards')) as { name: string; mode: string }[];
    assert.deepEqual(listed.map((f) => `${f.name} ${f.mode}`), FORWARDS.rules.map((r) => `${r.name} ${(r as { mode?: string }).mode ?? 'dnat'}`));
    const { cmd, args } = cliCommand(['rules', '--config', gw.configFile]);
    const rules = await tb.exec('gwa', cmd, args);
    assert.equal(rules.code, 0, rules.stderr);
    assert.match(rules.stdout, /ip daddr 100\.64\.1\.130 meta l4proto udp th dport 1125 counter name fwd_ntp_c_fullnat_new dnat ip to 192\.168\.0\.102:123/);
    assert.match(rules.stdout, /ct original proto-dst 1125 snat ip to 192\.168\.0\.1/);
  });

  test('stop removes the forwards with the rest of realmgw\'s table', async () => {
    gw.proc.child.kill('SIGTERM');
    await gw.proc.exited;
    const tables = (await tb.exec('gwa', 'nft', ['list', 'tables'], { check: true })).stdout;
    assert.doesNotMatch(tables, /table ip realmgw\b/);
    const after = await client({ op: 'http', address: WAN, port: 8081 });
    assert.equal(after.ok, false);
  });
});
