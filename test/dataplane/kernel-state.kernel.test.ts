// realmgw's kernel state against the real kernel, inside a testbed of namespaces built for this file:
// dry run, install, reinstall over leftovers, rollback, uninstall and `realmgw cleanup` with foreign state
// present, and real packets through both confirmation modes (nftset: every key shape, single use, ICMP).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';
import type { Logger } from '../../src/log.js';
import type { DataplaneModel } from '../../src/dataplane/model.js';
import { CommandRunner } from '../../src/dataplane/command.js';
import { KernelState, KernelStateError } from '../../src/dataplane/kernel-state.js';
import { NftChannel, nftCheck } from '../../src/dataplane/nft.js';
import { renderNft, type FirewallFragment } from '../../src/dataplane/ruleset.js';
import { planOps, planReservation, slotDeleteOps } from '../../src/dataplane/reservation-plan.js';
import { ElementChannel } from '../../src/dataplane/nft-elements.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { ADDR, POOL, Testbed, run, type NodeName } from '../support/netns.js';
import { CLI_PATH, DIST_DIR, E2E_TIMEOUT_MS, REPO_ROOT, writeTempYaml } from '../support/repo.js';
import { testbedModel } from '../support/dataplane-model.js';
import { until } from '../support/until.js';

const FLOW_SERVER = path.join(DIST_DIR, 'test', 'support', 'flow-server.js');
const FLOW_CLIENT = path.join(DIST_DIR, 'test', 'support', 'flow-client.js');
const T = { timeout: E2E_TIMEOUT_MS };

const quiet = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {} } as unknown as Logger;

/** The testbed model, addresses from test/support/netns.ts so both stay in step. */
function model(over: Partial<DataplaneModel> = {}): DataplaneModel {
  return testbedModel({ serviceAddress: ADDR.gwaWan, poolAddresses: [...POOL], ...over });
}

/** A small firewall fragment standing in for renderFirewall's output. */
const FIREWALL: FirewallFragment = {
  filter: ':RGW-FWT - [0:0]\n-A RGW-FWT -m set --match-set rgw-g-G2 src -p udp -m udp --dport 9 -j DROP\n',
  jumps: ['-j RGW-FWT'],
};

let tb: Testbed;
let foreignBefore: string;

async function sh(node: NodeName, script: string): Promise<string> {
  return (await tb.sh(node, script, { check: true })).stdout;
}

/** Everything of ours in gwa, as text that is easy to compare. */
async function ours(): Promise<{ table: boolean; iptables: string[]; ipsets: string[] }> {
  const tables = await sh('gwa', 'nft list tables');
  const save = await sh('gwa', 'iptables-save');
  const sets = await sh('gwa', 'ipset list -n');
  return {
    table: tables.split('\n').includes('table ip realmgw'),
    // sorted: the two PREROUTING jumps of nfqueue mode match disjoint packets, so their order carries no meaning
    iptables: save.split('\n').filter((l) => l.includes('RGW-')).sort(),
    ipsets: sets.split('\n').filter((n) => n.startsWith('rgw-')).sort(),
  };
}

/** Everything not ours in gwa: the foreign table, iptables without our lines, the foreign ipset. */
async function foreign(): Promise<string> {
  const nft = await sh('gwa', 'nft list table ip foreign');
  const ipt = (await sh('gwa', 'iptables-save'))
    .split('\n')
    .filter((l) => !l.startsWith('#') && !l.includes('RGW-'))
    .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'))
    .join('\n');
  const set = await sh('gwa', 'ipset list foreign-set');
  return `${nft}\n${ipt}\n${set}`;
}

async function assertNothingOfOurs(): Promise<void> {
  assert.deepEqual(await ours(), { table: false, iptables: [], ipsets: [] });
  assert.equal(await foreign(), foreignBefore, 'foreign state intact');
}

async function demoConfig(dataplane: Record<string, unknown>): Promise<string> {
  const c = parse(await readFile(path.join(REPO_ROOT, 'orchestration', 'netns', 'gwa.demo.yaml'), 'utf8'));
  c.zones = path.join(REPO_ROOT, 'zones');
  c.policies = path.join(REPO_ROOT, 'policies', 'gwa.demo');
  delete c.admin;
  c.dataplane = { wan: { interface: 'wan0' }, lan: { interface: 'lan0', network: '192.168.0.0/24' }, ...dataplane };
  return writeTempYaml(stringify(c));
}

interface Talk {
  ok: boolean;
  reply?: string;
  error?: string;
}

async function talk(address: string, proto: 'tcp' | 'udp' | 'icmp', port = 0): Promise<Talk> {
  const r = await tb.exec('public', process.execPath, [FLOW_CLIENT], { input: JSON.stringify({ op: 'connect', address, proto, port }), check: true });
  return JSON.parse(r.stdout) as Talk;
}

function assertReachedHosta(r: Talk, what: string): void {
  assert.ok(r.ok, `${what}: ${JSON.stringify(r)}`);
  if (r.reply !== 'pong') assert.match(r.reply!, new RegExp(`^hosta saw ${ADDR.public.replace(/\./g, '\\.')}:\\d+ hello$`), `${what}: DNATed to hosta, real source kept`);
}

before(async () => {
  tb = await Testbed.up();
  // foreign state that must survive everything we do, byte for byte
  await sh(
    'gwa',
    [
      "nft add table ip foreign",
      "nft add set ip foreign s '{ type ipv4_addr; }'",
      "nft add element ip foreign s '{ 10.1.2.3 }'",
      "nft add chain ip foreign c '{ type filter hook forward priority 5; policy accept; }'",
      'nft add rule ip foreign c ip saddr @s drop',
      'iptables -A FORWARD -s 10.9.9.9/32 -m comment --comment "foreign rule" -j DROP',
      'iptables -N FOREIGN-CHAIN',
      'iptables -A FOREIGN-CHAIN -j RETURN',
      'iptables -t mangle -A PREROUTING -s 10.9.9.8/32 -j MARK --set-mark 7',
      'ipset create foreign-set hash:ip',
      'ipset add foreign-set 10.1.2.3',
    ].join(' && '),
  );
  foreignBefore = await foreign();
});

after(async () => {
  await tb?.down();
});

describe('kernel state (real kernel, in namespaces)', () => {
  it('nft -c accepts the rendered table in both modes and changes nothing', T, async () => {
    const runner = new CommandRunner(tb.ns('gwa'));
    for (const m of [model(), model({ confirm: 'nftset' }), model({ unmatched: 'drop', queue: { num: 3, bypass: true } })]) {
      await nftCheck(runner, renderNft(m));
    }
    await assert.rejects(nftCheck(runner, renderNft(model({ lanNetwork: '192.168.0.0/33' }))), /nft -c rejected/);
    await assertNothingOfOurs();
  });

  it('realmgw rules prints the state and dry-runs it; rules and check change nothing', T, async () => {
    for (const confirm of ['nfqueue', 'nftset']) {
      const cfg = await demoConfig({ confirm });
      const r = await tb.exec('gwa', process.execPath, [CLI_PATH, 'rules', '--config', cfg]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^table ip realmgw \{$/m);
      assert.match(r.stderr, /nft -c accepted/);
      if (confirm === 'nfqueue') assert.match(r.stdout, /^iptables -t mangle -I PREROUTING 1 -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE$/m);
      else assert.match(r.stdout, /chain confirm \{/);
      const c = await tb.exec('gwa', process.execPath, [CLI_PATH, 'check', '--config', cfg]);
      assert.equal(c.code, 0, c.stderr);
    }
    await assertNothingOfOurs();
  });

  it('install puts exactly our state in place', T, async () => {
    await new KernelState(model(), quiet, { netns: tb.ns('gwa'), firewall: FIREWALL }).install();
    const table = await sh('gwa', 'nft list table ip realmgw');
    assert.match(table, /set pool \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = \{ 100\.64\.1\.131-100\.64\.1\.133 \}/);
    assert.match(table, /elements = \{ 0x52470001 : 192\.168\.0\.100, 0x52470002 : 192\.168\.0\.101 \}/);
    assert.deepEqual([...table.matchAll(/\tchain (\S+) \{/g)].map((m) => m[1]), ['prerouting', 'forward', 'input', 'refuse', 'postrouting']);
    assert.deepEqual(await ours(), {
      table: true,
      iptables: [
        ':RGW-QUEUE - [0:0]',
        ':RGW-HANDSHAKE - [0:0]',
        '-A PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        '-A PREROUTING -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
        '-A RGW-HANDSHAKE -j MARK --set-xmark 0x52470000/0xffffffff',
        '-A RGW-HANDSHAKE -j NFQUEUE --queue-num 1',
        '-A RGW-QUEUE -j NFQUEUE --queue-num 1',
        ':RGW-FWT - [0:0]',
        '-A FORWARD -j RGW-FWT',
        '-A RGW-FWT -p udp -m set --match-set rgw-g-G2 src -m udp --dport 9 -j DROP',
      ].sort(),
      ipsets: ['rgw-g-G1', 'rgw-g-G2', 'rgw-pool'],
    });
    const members = async (set: string) => {
      const text = await sh('gwa', `ipset list ${set}`);
      return { type: /^Type: (.*)$/m.exec(text)?.[1], members: text.split('Members:\n')[1].trim().split('\n').sort() };
    };
    assert.deepEqual(await members('rgw-pool'), { type: 'hash:net', members: ['100.64.1.131', '100.64.1.132/31'] });
    assert.deepEqual(await members('rgw-g-G1'), { type: 'hash:ip', members: [ADDR.hosta, ADDR.hostb] });
    assert.deepEqual(await members('rgw-g-G2'), { type: 'hash:ip', members: [ADDR.hostb] });
    assert.equal(await foreign(), foreignBefore);
  });

  it('install again, and after a SIGKILLed realmgw with extra leftovers: exactly one copy', T, async () => {
    const expected = await ours();
    await new KernelState(model(), quiet, { netns: tb.ns('gwa'), firewall: FIREWALL }).install();
    assert.deepEqual(await ours(), expected, 'second install');

    // a realmgw that installed and was killed with SIGKILL (no uninstall)
    const url = (p: string) => JSON.stringify(pathToFileURL(path.join(DIST_DIR, p)).href);
    const script = `
      import { KernelState } from ${url('src/dataplane/kernel-state.js')};
      const m = JSON.parse(process.env.RGW_MODEL); m.groups = new Map(m.groups);
      const log = { debug() {}, info() {}, warn() {}, error() {} };
      await new KernelState(m, log, { firewall: JSON.parse(process.env.RGW_FW) }).install();
      console.log('installed');
      setInterval(() => {}, 1e6);`;
    const m = model();
    const proc = tb.spawn('gwa', process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, RGW_MODEL: JSON.stringify({ ...m, groups: [...m.groups] }), RGW_FW: JSON.stringify(FIREWALL) },
    });
    await proc.ready('installed', 20_000);
    assert.equal((await proc.stop('SIGKILL', 0)).signal, 'SIGKILL');
    // ... plus what a half-finished earlier version could have left: a duplicate jump, a stale chain, a stale ipset
    await sh(
      'gwa',
      [
        'iptables -t mangle -A PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        'iptables -N RGW-OLD',
        'iptables -A RGW-OLD -j RETURN',
        'iptables -I FORWARD 2 -j RGW-OLD',
        'ipset create rgw-g-old hash:ip',
      ].join(' && '),
    );
    await new KernelState(model(), quiet, { netns: tb.ns('gwa'), firewall: FIREWALL }).install();
    assert.deepEqual(await ours(), expected, 'after leftovers');
    assert.equal(await foreign(), foreignBefore);
  });

  it('a dry-run failure changes nothing; a failure while applying removes what the install added', T, async () => {
    const expected = await ours();
    await assert.rejects(
      new KernelState(model({ lanNetwork: '192.168.0.0/33' }), quiet, { netns: tb.ns('gwa') }).install(),
      (e: unknown) => e instanceof KernelStateError && e.step === 'validate',
    );
    assert.deepEqual(await ours(), expected, 'the running state is untouched by a ruleset nft -c refuses');

    await new KernelState(model(), quiet, { netns: tb.ns('gwa') }).uninstall();
    const broken: FirewallFragment = { filter: ':RGW-FWT - [0:0]\n-A RGW-FWT -m set --match-set rgw-no-such-set src -j DROP\n', jumps: ['-j RGW-FWT'] };
    await assert.rejects(new KernelState(model(), quiet, { netns: tb.ns('gwa'), firewall: broken }).install(), (e: unknown) => {
      assert.ok(e instanceof KernelStateError, String(e));
      assert.equal(e.step, 'iptables');
      assert.ok(e.removed.includes('nft delete table ip realmgw'), e.removed.join('\n'));
      assert.ok(e.removed.includes('ipset destroy rgw-pool'), e.removed.join('\n'));
      return true;
    });
    await assertNothingOfOurs();
  });

  it('uninstall removes our table, chains, jumps and ipsets, and nothing else', T, async () => {
    const ks = new KernelState(model({ confirm: 'nftset' }), quiet, { netns: tb.ns('gwa'), firewall: FIREWALL });
    await ks.install();
    assert.deepEqual((await ours()).ipsets, ['rgw-g-G1', 'rgw-g-G2']);
    await ks.uninstall();
    await assertNothingOfOurs();
    await ks.uninstall(); // idempotent
  });

  it('realmgw cleanup removes everything of ours, prints it, and nothing else', T, async () => {
    await new KernelState(model(), quiet, { netns: tb.ns('gwa'), firewall: FIREWALL }).install();
    const r = await tb.exec('gwa', process.execPath, [CLI_PATH, 'cleanup']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      'removed: ipset destroy rgw-g-G1',
      'removed: ipset destroy rgw-g-G2',
      'removed: ipset destroy rgw-pool',
      'removed: iptables -t filter -D FORWARD -j RGW-FWT',
      'removed: iptables -t filter -X RGW-FWT',
      'removed: iptables -t mangle -D PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
      'removed: iptables -t mangle -D PREROUTING -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
      'removed: iptables -t mangle -X RGW-HANDSHAKE',
      'removed: iptables -t mangle -X RGW-QUEUE',
      'removed: nft delete table ip realmgw',
    ]);
    await assertNothingOfOurs();
    const again = await tb.exec('gwa', process.execPath, [CLI_PATH, 'cleanup', '--config', await demoConfig({})]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing of realmgw's found/);
  });
});

describe('packets through the installed state', () => {
  let server: ReturnType<Testbed['spawn']>;

  before(async () => {
    server = tb.spawn('hosta', process.execPath, [FLOW_SERVER, '--tcp', '5000,22', '--udp', '5001', '--name', 'hosta']);
    await server.ready('listening');
  });

  after(async () => {
    await server?.stop();
    await new KernelState(model(), quiet, { netns: tb.ns('gwa') }).uninstall();
    await tb.sh('gwa', 'nft delete table ip rgwtest 2>/dev/null; true');
  });

  it('nfqueue mode: the mark userspace sets DNATs to its host; the reject mark and no mark are refused', T, async () => {
    // no consumer on the queue: --queue-bypass lets first packets through unmarked; a test table stands in
    // for realmgw's verdicts by marking them between mangle (-150) and dstnat (-100)
    await new KernelState(model({ queue: { num: 1, bypass: true } }), quiet, { netns: tb.ns('gwa') }).install();
    await sh(
      'gwa',
      `nft -f - <<'EOF'
table ip rgwtest {
  chain pre {
    type filter hook prerouting priority mangle + 10; policy accept;
    ip daddr ${POOL[0]} meta mark set 0x52470001
    ip daddr ${POOL[1]} meta mark set 0x5247ffff
  }
}
EOF`,
    );
    assertReachedHosta(await talk(POOL[0], 'tcp', 5000), 'marked for hosta');
    assertReachedHosta(await talk(POOL[0], 'udp', 5001), 'marked for hosta, udp');
    assert.deepEqual(await talk(POOL[1], 'tcp', 5000), { ok: false, error: 'ECONNREFUSED' }, 'reject mark: TCP reset');
    assert.deepEqual(await talk(POOL[2], 'tcp', 5000), { ok: false, error: 'ECONNREFUSED' }, 'no mark (realmgw down, bypass): reset');
    assert.equal((await talk(POOL[2], 'icmp')).ok, false);
    await sh('gwa', 'nft delete table ip rgwtest');
  });

  describe('nftset mode: single-use reservations consumed in the kernel', () => {
    let nft: NftChannel;
    let elements: ElementChannel;
    const m = model({ confirm: 'nftset' });
    const HOSTA = parseIpv4(ADDR.hosta);
    const slot = (address: string, protocol: number, port: number) => ({ address: parseIpv4(address), protocol, port });
    // what the gateway does for a reservation of a slot it holds nothing for (reservation-plan.ts)
    const reserve = (address: string, protocol: number, port: number, lifetimeMs = 5000) =>
      elements.run(planOps(planReservation(undefined, HOSTA, lifetimeMs, performance.now()), slot(address, protocol, port), HOSTA, undefined));
    // what the gateway does after a failed transaction: bare deletes, each failing harmlessly when nothing is there
    const forget = async (address: string, protocol: number, port: number) => {
      for (const ops of slotDeleteOps(slot(address, protocol, port))) await elements.run(ops).catch(() => undefined);
    };

    before(async () => {
      await new KernelState(m, quiet, { netns: tb.ns('gwa') }).install();
      nft = new NftChannel({ netns: tb.ns('gwa') });
      elements = new ElementChannel({ table: m.table, netns: tb.ns('gwa') });
    });

    after(async () => {
      await nft?.close();
      await elements?.close();
    });

    const cases: { shape: string; address: string; protocol: number; port: number; probe: ['tcp' | 'udp' | 'icmp', number] }[] = [
      { shape: 'exact, tcp', address: POOL[0], protocol: 6, port: 5000, probe: ['tcp', 5000] },
      { shape: 'exact, udp', address: POOL[1], protocol: 17, port: 5001, probe: ['udp', 5001] },
      { shape: 'port wildcard, tcp', address: POOL[2], protocol: 6, port: 0, probe: ['tcp', 22] },
      { shape: 'protocol wildcard, udp', address: POOL[0], protocol: 0, port: 5001, probe: ['udp', 5001] },
      { shape: 'protocol wildcard, tcp', address: POOL[1], protocol: 0, port: 22, probe: ['tcp', 22] },
      { shape: 'both wildcards, tcp', address: POOL[2], protocol: 0, port: 0, probe: ['tcp', 5000] },
      { shape: 'port wildcard, icmp', address: POOL[0], protocol: 1, port: 0, probe: ['icmp', 0] },
      { shape: 'both wildcards, icmp', address: POOL[1], protocol: 0, port: 0, probe: ['icmp', 0] },
    ];
    for (const c of cases) {
      it(`${c.shape}: the first flow reaches hosta, a second new flow is refused`, T, async () => {
        await reserve(c.address, c.protocol, c.port);
        assertReachedHosta(await talk(c.address, ...c.probe), 'first flow');
        const second = await talk(c.address, ...c.probe);
        assert.equal(second.ok, false, `second flow: ${JSON.stringify(second)}`);
        if (c.probe[0] === 'tcp') assert.equal(second.error, 'ECONNREFUSED', 'refused with a reset, not routed back out');
      });
    }

    it('ICMP never matches a key that names a port; the reservation stays for a packet that has one', T, async () => {
      await reserve(POOL[2], 0, 5000);
      await reserve(POOL[2], 1, 7);
      assert.equal((await talk(POOL[2], 'icmp')).ok, false, 'ping to protocol wildcard / exact keys with ports');
      const pending = await sh('gwa', 'nft list set ip realmgw pend_anyproto');
      assert.match(pending, /100\.64\.1\.133 \. 5000 timeout/, 'not consumed by the ping');
      assertReachedHosta(await talk(POOL[2], 'tcp', 5000), 'then a TCP flow to the port');
      await forget(POOL[2], 1, 7);
    });

    it('the more specific shape wins when two match; the other stays pending', T, async () => {
      await reserve(POOL[0], 0, 0);
      await reserve(POOL[0], 6, 5000);
      assertReachedHosta(await talk(POOL[0], 'tcp', 5000), 'exact first');
      assert.match(await sh('gwa', 'nft list set ip realmgw pend_any'), /100\.64\.1\.131 timeout/);
      assert.doesNotMatch(await sh('gwa', 'nft list set ip realmgw pend_exact'), /100\.64\.1\.131/);
      assertReachedHosta(await talk(POOL[0], 'udp', 5001), 'then the wildcard');
    });

    it('reservations expire; forgetting a slot works on live, consumed and vanished elements', T, async () => {
      await reserve(POOL[1], 6, 5000, 300);
      await until('the pending marker expires', async () => !/100\.64\.1\.132 \. tcp \. 5000/.test(await sh('gwa', 'nft list set ip realmgw pend_exact')));
      assert.equal((await talk(POOL[1], 'tcp', 5000)).error, 'ECONNREFUSED', 'expired');
      await forget(POOL[1], 6, 5000); // the map element is still there (held), the marker vanished
      await forget(POOL[1], 6, 5000); // both vanished
      await reserve(POOL[1], 6, 5000);
      await forget(POOL[1], 6, 5000); // live
      assert.equal((await talk(POOL[1], 'tcp', 5000)).error, 'ECONNREFUSED', 'deleted before use');
      await reserve(POOL[1], 6, 5000);
      assertReachedHosta(await talk(POOL[1], 'tcp', 5000), 're-reserved after delete');
      await forget(POOL[1], 6, 5000); // consumed
      assert.doesNotMatch(await sh('gwa', 'nft list map ip realmgw dnat_exact'), /100\.64\.1\.132 \. tcp \. 5000/);
      assert.doesNotMatch(await sh('gwa', 'nft list set ip realmgw pend_exact'), /100\.64\.1\.132 \. tcp \. 5000/);
    });

    it('client-subnet bindings: a foreign source is counted stolen and leaves the marker; successive bindings of one slot never collide', T, async () => {
      const el = slot(POOL[2], 6, 5000);
      const hosta = parseIpv4(ADDR.hosta);
      const net = (cidr: string) => ({ network: parseIpv4(cidr.split('/')[0]!), prefixLength: Number(cidr.split('/')[1]) });
      const stolen = async () => Number(/packets (\d+)/.exec(await sh('gwa', 'nft list counter ip realmgw stolen'))?.[1]);
      const before = await stolen();
      // bound elsewhere: the client is refused, counted, and the marker stays
      const first = planReservation(undefined, hosta, 5000, performance.now(), undefined, net('198.51.100.0/24'));
      await elements.run(planOps(first, el, hosta, undefined));
      assert.equal((await talk(POOL[2], 'tcp', 5000)).error, 'ECONNREFUSED', 'foreign source refused');
      assert.ok((await stolen()) > before, 'counted as stolen');
      assert.match(await sh('gwa', 'nft list set ip realmgw pendb_exact'), /100\.64\.1\.133 \. tcp \. 5000/, 'the marker is still pending');
      // the same slot again, bound to an overlapping prefix (an interval set refuses overlapping elements):
      // the plan removes the previous binding in the same transaction
      const second = planReservation(first.next, hosta, 5000, performance.now(), undefined, net('100.64.0.0/16'));
      assert.deepEqual(second.clearBinding, net('198.51.100.0/24'));
      await elements.run(planOps(second, el, hosta, hosta, true));
      const third = planReservation(second.next, hosta, 5000, performance.now(), undefined, net('100.64.0.0/24'));
      await elements.run(planOps(third, el, hosta, hosta, true));
      assert.match(await sh('gwa', 'nft list set ip realmgw bind_exact'), /100\.64\.0\.0\/24 \. 100\.64\.1\.133 \. tcp \. 5000/);
      assert.doesNotMatch(await sh('gwa', 'nft list set ip realmgw bind_exact'), /\/16 \. 100\.64\.1\.133/);
      assertReachedHosta(await talk(POOL[2], 'tcp', 5000), 'the client inside the /24');
      // unbound after bound: the bound marker and the binding go, the plain marker serves
      const fourth = planReservation({ ...third.next, consumed: true }, hosta, 5000, performance.now());
      await elements.run(planOps(fourth, el, hosta, hosta, true));
      assert.doesNotMatch(await sh('gwa', 'nft list set ip realmgw bind_exact'), /100\.64\.1\.133/);
      assertReachedHosta(await talk(POOL[2], 'tcp', 5000), 'unbound');
    });

    it('the kernel does not refresh a re-added element\'s timeout; the reservation plan never relies on it', T, async () => {
      // the fact: re-adding an existing element leaves its expiry where it was
      await nft.run(`add element ip realmgw dnat_any { 10.2.0.1 timeout 3000ms : ${ADDR.hosta} }`);
      await new Promise((r) => setTimeout(r, 1500));
      await nft.run(`add element ip realmgw dnat_any { 10.2.0.1 timeout 3000ms : ${ADDR.hosta} }`);
      const listed = await sh('gwa', 'nft list map ip realmgw dnat_any');
      const expires = /10\.2\.0\.1 timeout 3s expires ((?:\d+(?:ms|s|m|h))+)/.exec(listed);
      const ms = (text: string) => [...text.matchAll(/(\d+)(ms|s|m|h)/g)].reduce((a, [, n, u]) => a + Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[u as 'ms'], 0);
      assert.ok(expires && ms(expires[1]!) < 2000, `expiry refreshed? ${expires?.[0] ?? listed}`);

      // the plan: a second reservation of a slot, made when the first one's map element is about to expire,
      // still reaches the host after that moment (a plain re-add would leave it without a target)
      const el = slot(POOL[1], 6, 5000);
      const apply = (p: ReturnType<typeof planReservation>, previousTarget?: number) => elements.run(planOps(p, el, HOSTA, previousTarget));
      const hosta = parseIpv4(ADDR.hosta);
      const t0 = performance.now();
      const first = planReservation(undefined, hosta, 1000, t0, 1000); // map element lives ~2 s
      await apply(first);
      assertReachedHosta(await talk(POOL[1], 'tcp', 5000), 'first reservation');
      await new Promise((r) => setTimeout(r, 1200));
      const second = planReservation({ ...first.next, consumed: true }, hosta, 1000, performance.now(), 1000);
      assert.equal(second.clearTarget, true, 'the old map element would expire during the second reservation');
      await apply(second, hosta);
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + 2100 - performance.now()))); // past the first element's expiry
      assertReachedHosta(await talk(POOL[1], 'tcp', 5000), 'second reservation, after the first map element expired');
    });

    it('one key reserved and consumed by the packet path 2,000 times in a row: every reservation is accepted', T, async () => {
      // Consumed elements stay in the set, dead, until its garbage collection; re-adding the same key fast piles
      // them up until the kernel refuses inserts (EBUSY). The pending sets' short gc-interval prevents that.
      const sender = tb.spawn(
        'public',
        process.execPath,
        [
          '-e',
          `const dgram = require('node:dgram');
           require('node:readline').createInterface({ input: process.stdin }).on('line', (n) => {
             const s = dgram.createSocket('udp4'); // a new source port: a new conntrack flow, so ct state new
             s.send('x', 5001, '${POOL[0]}', () => { s.close(); console.log('sent ' + n); });
           });
           console.log('sender ready');`,
        ],
        { stdin: 'pipe' },
      );
      await sender.ready('sender ready');
      const own = new ElementChannel({ table: m.table, netns: tb.ns('gwa') });
      const n = 2000;
      try {
        for (let i = 0; i < n; i++) {
          await own.run(planOps(planReservation(undefined, HOSTA, 5000, performance.now()), slot(POOL[0], 17, 5001), HOSTA, undefined));
          sender.child.stdin!.write(`${i}\n`);
          await sender.ready(`sent ${i}`, 5000, { fromLine: i });
        }
        // the last packet reaches gwa's packet path some time after the sender wrote it: wait for its consumption
        await until('the last reservation to be consumed too', async () => !/100\.64\.1\.131 \. udp \. 5001/.test(await sh('gwa', 'nft list set ip realmgw pend_exact')));
        const { runs, failed, busy } = own.stats;
        assert.deepEqual({ runs, failed }, { runs: n, failed: 0 });
        assert.ok(busy <= n / 100, `${busy} of ${n} transactions met EBUSY and waited for a retry`);
      } finally {
        await own.close();
        await sender.stop();
      }
    });

    it('NftChannel: runs settle in order, an error fails only its own run (also when merged), in the namespace it was given', T, async () => {
      const results = await Promise.allSettled([
        nft.run(`add element ip realmgw pend_any { 10.0.0.1 timeout 5s }`),
        nft.run(`add element ip realmgw no_such_set { 10.0.0.2 }`),
        nft.run(`add element ip realmgw pend_any { 10.0.0.3 timeout 5s }\nadd element ip realmgw pend_any { 10.0.0.4 timeout 5s }`),
        nft.run(`add element ip realmgw pend_any { 10.0.0.5 timeout 5s }; add element ip realmgw pend_any { 10.0.0.5 . 6 }`),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      assert.match(String((results[1] as PromiseRejectedResult).reason), /No such file or directory/);
      const set = await sh('gwa', 'nft list set ip realmgw pend_any');
      for (const a of ['10.0.0.1', '10.0.0.3', '10.0.0.4']) assert.match(set, new RegExp(`${a.replace(/\./g, '\\.')} timeout`));
      assert.doesNotMatch(set, /10\.0\.0\.5/, 'a failed batch is one transaction: nothing of it applied');

      // the channel's libnftables context lives in gwa's namespace, not in the test process's
      assert.doesNotMatch((await run('nft', ['list', 'tables'])).stdout, /table ip realmgw\b/, 'nothing in our own namespace');
      const nowhere = new NftChannel({ netns: `${tb.prefix}no-such-ns` });
      await assert.rejects(nowhere.run('list tables'), /cannot enter network namespace .*no-such-ns/);
      await nowhere.close();

      // group commit: concurrent runs share lines (transactions), each still settles on its own
      const before = nft.stats;
      const n = 500;
      await Promise.all(Array.from({ length: n }, (_, i) => reserve(`10.1.${i >> 8}.${i & 255}`, 6, 80)));
      const lines = nft.stats.lines - before.lines;
      assert.ok(lines < n / 4, `${n} reservations on ${lines} lines`);
      assert.equal((await sh('gwa', 'nft list set ip realmgw pend_exact')).match(/10\.1\.\d+\.\d+ \. tcp \. 80 timeout/g)?.length, n);
    });
  });
});
