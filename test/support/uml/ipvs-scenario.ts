// The ipvs backend against real IPVS. Runs INSIDE a user-mode Linux guest (test/workers/ipvs-backend.kernel.test.ts
// boots it); on a kernel without IPVS it fails at once. Namespaces, all created and removed here:
//
//   cli  100.64.9.2/24 ── g0 100.64.9.1/24 (public address)  gw  p0 10.9.0.1/24 (private) ── wk 10.9.0.2/24
//                                                                                  default via 10.9.0.254 (nobody)
//
// The worker's default route leads nowhere, so a reply only reaches the client if FULL-NAT sent it back
// through the gateway.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IpvsBackend } from '../../../src/workers/backends/ipvs-backend.js';
import { makeLease } from '../../../src/workers/lease.js';
import { NsProcess, run } from '../netns.js';
import { DIST_DIR } from '../repo.js';

const P = `rgwt${randomBytes(3).toString('hex')}-`;
const NS = { cli: `${P}cli`, gw: `${P}gw`, wk: `${P}wk` };
const PUBLIC = '100.64.9.1';
const CLIENT = '100.64.9.2';
const PRIVATE = '10.9.0.1';
const WORKER = '10.9.0.2';
const PORTS = [30000, 30099] as const;
const FLOW_CLIENT = join(DIST_DIR, 'test', 'support', 'flow-client.js');
const FLOW_SERVER = join(DIST_DIR, 'test', 'support', 'flow-server.js');

const tcp = makeLease('w1', { port: 10053, protocol: 'tcp' }, 30010, WORKER);
const udp = makeLease('w1', { port: 10053, protocol: 'udp' }, 30011, WORKER);

/** Services of others, created before realmgw starts: each must survive start, every diff and stop. */
const BYSTANDERS = [
  ['-A', '-t', `${PUBLIC}:80`, '-s', 'rr'], // our address, outside the lease range
  ['-A', '-t', `${PUBLIC}:30050`, '-s', 'rr'], // inside the range, not our shape
  ['-a', '-t', `${PUBLIC}:30050`, '-r', `${WORKER}:10053`, '-m', '-w', '1'],
  ['-A', '-u', `10.77.0.1:30011`, '-s', 'wrr'], // our shape and port, another address
  ['-a', '-u', `10.77.0.1:30011`, '-r', `${WORKER}:10053`, '-m', '-w', '100'],
];
/** What a killed realmgw run left: a service of ours (cut between -A and -a) and its SNAT chain, jumped to twice. */
const LEFTOVER = [['-A', '-t', `${PUBLIC}:30020`, '-s', 'wrr']];

async function sh(ns: string | undefined, cmd: string, args: readonly string[], input?: string): Promise<string> {
  const argv = ns ? ['netns', 'exec', ns, cmd, ...args] : args;
  const r = await run(ns ? 'ip' : cmd, argv, { input, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`${ns ?? ''} ${cmd} ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const gw = (cmd: string, ...args: string[]) => sh(NS.gw, cmd, args);
const ipvsDump = async () => (await gw('ipvsadm', '-S', '-n')).split('\n').filter(Boolean).sort();
const natRules = async () => (await gw('iptables-legacy-save', '-t', 'nat')).split('\n').filter((l) => l.startsWith('-A') || l.startsWith(':RGW'));

async function talk(proto: 'tcp' | 'udp', port: number): Promise<{ ok: boolean; reply?: string; error?: string }> {
  const out = await sh(NS.cli, process.execPath, [FLOW_CLIENT], JSON.stringify({ op: 'connect', address: PUBLIC, proto, port, payload: `hi-${proto}` }));
  return JSON.parse(out) as { ok: boolean; reply?: string; error?: string };
}

async function rejected(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    assert.equal((e as { code?: string }).code, code, (e as Error).message);
    return e as Error;
  }
  assert.fail(`expected a ${code} error`);
}

const OPTIONS = {
  publicAddress: PUBLIC,
  privateAddress: PRIVATE,
  privateNetwork: '10.9.0.0/24',
  ports: PORTS,
  netns: NS.gw,
  iptables: 'iptables-legacy',
} as const;
const backend = new IpvsBackend(OPTIONS);
let server: NsProcess | undefined;

describe('ipvs backend on a real IPVS kernel', () => {
  before(async () => {
    for (const ns of Object.values(NS)) {
      await sh(undefined, 'ip', ['netns', 'add', ns]);
      await sh(ns, 'ip', ['link', 'set', 'lo', 'up']);
    }
    await sh(undefined, 'ip', ['link', 'add', 'c0', 'netns', NS.cli, 'type', 'veth', 'peer', 'g0', 'netns', NS.gw]);
    await sh(undefined, 'ip', ['link', 'add', 'p0', 'netns', NS.gw, 'type', 'veth', 'peer', 'e0', 'netns', NS.wk]);
    const setup: [string, string][] = [
      [NS.cli, `ip addr add ${CLIENT}/24 dev c0 && ip link set c0 up && ip route add default via ${PUBLIC}`],
      [NS.gw, `ip addr add ${PUBLIC}/24 dev g0 && ip link set g0 up && ip addr add ${PRIVATE}/24 dev p0 && ip link set p0 up && sysctl -qw net.ipv4.ip_forward=1`],
      [NS.wk, `ip addr add ${WORKER}/24 dev e0 && ip link set e0 up && ip route add default via 10.9.0.254`],
    ];
    for (const [ns, script] of setup) await sh(ns, 'sh', ['-c', script]);
    for (const args of [...BYSTANDERS, ...LEFTOVER]) await gw('ipvsadm', ...args);
    await gw('sh', '-c', 'iptables-legacy -t nat -N RGW_IPVS_SNAT && iptables-legacy -t nat -A POSTROUTING -j RGW_IPVS_SNAT && iptables-legacy -t nat -A POSTROUTING -j RGW_IPVS_SNAT');
    await gw('iptables-legacy', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.66.0.0/16', '-o', 'g0', '-j', 'SNAT', '--to-source', PUBLIC); // a bystander rule
    server = new NsProcess(NS.wk, process.execPath, [FLOW_SERVER, '--tcp', '10053', '--udp', '10053', '--name', 'worker']);
    await server.ready('listening', 15_000);
  });

  after(async () => {
    await backend.stop().catch(() => undefined);
    await server?.stop('SIGKILL');
    for (const ns of Object.values(NS)) await run('ip', ['netns', 'del', ns]);
  });

  it('starts: removes the killed run\'s leftovers, installs one SNAT jump, maps the restored lease', async () => {
    assert.equal((await gw('sysctl', '-n', 'net.ipv4.vs.conntrack')).trim(), '0');
    await backend.start([tcp]);
    const dump = await ipvsDump();
    assert.ok(!dump.some((l) => l.includes(':30020')), `leftover still there:\n${dump.join('\n')}`);
    assert.ok(dump.includes(`-A -t ${PUBLIC}:30010 -s wrr`) && dump.includes(`-a -t ${PUBLIC}:30010 -r ${WORKER}:10053 -m -w 100`), dump.join('\n'));
    const nat = await natRules();
    assert.equal(nat.filter((l) => l === '-A POSTROUTING -j RGW_IPVS_SNAT').length, 1, nat.join('\n'));
    assert.equal((await gw('sysctl', '-n', 'net.ipv4.vs.conntrack')).trim(), '1');
  });

  it('applies a diff: TCP and UDP reach the worker, which sees the gateway\'s private address, and replies come back', async () => {
    await backend.apply({ add: [udp], remove: [] });
    for (const [proto, port] of [['tcp', 30010], ['udp', 30011]] as const) {
      const r = await talk(proto, port);
      assert.ok(r.ok, `${proto} flow failed: ${r.error}`);
      assert.match(r.reply ?? '', new RegExp(`^worker saw ${PRIVATE.replace(/\./g, '\\.')}:\\d+ hi-${proto}$`));
    }
  });

  it('counts connections, packets and bytes per lease from IPVS stats', async () => {
    // a 6.1 kernel folds its per-CPU counters into what ipvsadm reads every 2 s (the rate estimator's timer)
    let c = await backend.counters();
    for (let tries = 0; tries < 30 && [...c.values()].some((x) => x.packetsOut === 0); tries++) {
      await new Promise((r) => setTimeout(r, 200));
      c = await backend.counters();
    }
    assert.deepEqual([...c.keys()].sort(), ['tcp/30010', 'udp/30011']);
    const t = c.get('tcp/30010')!;
    const u = c.get('udp/30011')!;
    assert.ok(t.connections >= 1 && t.packetsIn >= 3 && t.packetsOut >= 2 && t.bytesIn > t.packetsIn * 20 && t.bytesOut > 0, JSON.stringify(t));
    assert.ok(u.connections >= 1 && u.packetsIn >= 1 && u.packetsOut >= 1 && u.bytesIn > 0 && u.bytesOut > 0, JSON.stringify(u));
  });

  it('rolls a failing diff back: the kernel holds exactly what it held before, flows still work', async () => {
    const before = await ipvsDump();
    const fresh = makeLease('w2', { port: 10053, protocol: 'tcp' }, 30030, WORKER);
    const clash = makeLease('w2', { port: 22, protocol: 'tcp' }, 30050, WORKER); // the bystander's port
    const err = await rejected(backend.apply({ add: [fresh, clash], remove: [udp] }), 'RGW_IPVS_APPLY');
    assert.match(err.message, /rolled back/);
    assert.deepEqual(await ipvsDump(), before);
    assert.deepEqual([...backend.leases.keys()].sort(), ['tcp/30010', 'udp/30011']);
    assert.ok((await talk('udp', 30011)).ok, 'udp lease lost after rollback');
  });

  it('refuses bad input whole before touching the kernel', async () => {
    const before = await ipvsDump();
    const outside = makeLease('w2', { port: 22, protocol: 'tcp' }, 30040, '192.168.5.5');
    await rejected(backend.apply({ add: [outside], remove: [] }), 'RGW_IPVS_BAD_DIFF');
    await rejected(backend.apply({ add: [], remove: [makeLease('w3', { port: 1, protocol: 'udp' }, 30041, WORKER)] }), 'RGW_IPVS_BAD_DIFF');
    assert.deepEqual(await ipvsDump(), before);
  });

  it('removal stops new flows', async () => {
    await backend.apply({ add: [], remove: [tcp] });
    const r = await talk('tcp', 30010);
    assert.ok(!r.ok, `tcp still reaches the worker after removal: ${r.reply}`);
    assert.ok((await talk('udp', 30011)).ok, 'the other lease went too');
  });

  it('stops: nothing of ours left, every bystander intact', async () => {
    await backend.stop();
    await backend.stop(); // idempotent
    const expected = BYSTANDERS.map((a) => a.join(' ')).sort();
    assert.deepEqual(await ipvsDump(), expected);
    const nat = await natRules();
    assert.ok(!nat.some((l) => l.includes('RGW_IPVS_SNAT')), nat.join('\n'));
    assert.ok(nat.includes(`-A POSTROUTING -s 10.66.0.0/16 -o g0 -j SNAT --to-source ${PUBLIC}`), nat.join('\n'));
    assert.equal((await gw('sysctl', '-n', 'net.ipv4.vs.conntrack')).trim(), '0');
  });

  it('cleanup without a start removes what a killed run left, and only that', async () => {
    const killed = new IpvsBackend(OPTIONS);
    await killed.start([tcp, udp]); // never stopped
    await new IpvsBackend(OPTIONS).cleanup();
    assert.deepEqual(await ipvsDump(), BYSTANDERS.map((a) => a.join(' ')).sort());
    assert.ok(!(await natRules()).some((l) => l.includes('RGW_IPVS_SNAT')));
  });
});
