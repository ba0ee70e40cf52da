// The rendered firewall against the real kernel, inside network namespaces this file creates and always
// removes (rgwt<hex>-...; every command runs under `ip netns exec`, the root namespace's tables are never
// touched): iptables-restore accepts the fragment, iptables-save gives back exactly the rendered rules, and
// packets forwarded by a router namespace meet the verdicts the rules promise.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataplaneHost, DataplaneModel } from '../../src/dataplane/model.js';
import { firewallProblems, groupSetName, renderFirewall, type FirewallRender } from '../../src/dataplane/firewall.js';
import { loadPolicyFolder, type FirewallRule } from '../../src/policy/index.js';
import { run, type NsProcess } from '../support/netns.js';
import { ScratchNamespaces, kernelTestSkip } from '../support/scratch-ns.js';
import { E2E_TIMEOUT_MS, POLICIES_DIR } from '../support/repo.js';

const SKIP = kernelTestSkip(['/usr/sbin/iptables-restore', '/usr/sbin/ipset'], 'iptables and ipset');

function inNs(ns: string, cmd: string, args: readonly string[], input?: string) {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], { check: true, input });
}

const restoreText = (r: FirewallRender) => `*filter\n${r.filter}COMMIT\n`;

/** Our chains' lines as iptables-save prints them. */
async function savedLines(ns: string, prefix: string): Promise<string[]> {
  const { stdout } = await inNs(ns, 'iptables-save', ['-t', 'filter']);
  return stdout.split('\n').filter((l) => l.startsWith(`:${prefix}-`) || l.startsWith(`-A ${prefix}-`));
}

/** Protocol names to numbers, the way iptables-save may print them (its own table, then /etc/protocols). */
const PROTOCOL_NUMBERS: Map<string, string> = (() => {
  const m = new Map(Object.entries({ tcp: '6', udp: '17', icmp: '1', sctp: '132', udplite: '136', icmpv6: '58', 'ipv6-icmp': '58', esp: '50', ah: '51', mh: '135', 'ipv6-mh': '135' }));
  const text = existsSync('/etc/protocols') ? readFileSync('/etc/protocols', 'utf8') : '';
  for (const l of text.split('\n')) {
    const [name, num, ...aliases] = l.replace(/#.*/, '').trim().split(/\s+/);
    if (name && /^\d+$/.test(num ?? '')) for (const n of [name, ...aliases]) if (!m.has(n)) m.set(n, num);
  }
  return m;
})();
const numericProtocols = (line: string) => line.replace(/ -p (\S+)/, (s, p: string) => ` -p ${PROTOCOL_NUMBERS.get(p) ?? p}`);

function modelOf(hosts: DataplaneHost[]): DataplaneModel {
  const groups = new Map<string, string[]>();
  for (const h of hosts) for (const g of h.groups) groups.set(g, [...(groups.get(g) ?? []), h.ipv4]);
  return {
    table: 'realmgw', prefix: 'RGW', confirm: 'nfqueue', queue: { num: 1, bypass: false }, unmatched: 'reject',
    wanInterface: 'wan0', lanInterface: 'lan0', lanNetwork: '192.168.0.0/24', serviceAddress: '100.64.1.130',
    poolAddresses: ['100.64.1.131'], markBase: 0x52470000, hosts, groups,
  };
}

function demoModel(): DataplaneModel {
  const p = loadPolicyFolder(join(POLICIES_DIR, 'gwa.demo'));
  return modelOf(
    [...p.hosts.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((h, i) => ({ id: h.id, ipv4: h.ipv4, markIndex: i + 1, groups: h.groups, firewall: h.firewall })),
  );
}

let line = 1;
const rule = (over: Partial<FirewallRule>): FirewallRule => ({ priority: 0, direction: 'ANY', target: 'ACCEPT', file: 'k.yaml', line: line++, ...over });
const hl = (name: string, rate: number, per: 'second' | 'minute' | 'hour' | 'day', more: Partial<NonNullable<FirewallRule['hashlimit']>> = {}) =>
  rule({ direction: 'EGRESS', protocol: 17, hashlimit: { name, mode: 'upto', rate, per, keys: [], ...more }, target: 'DROP' });

/** Every match kind, rates iptables-save rewrites, and comments that try to break out of their quotes. */
function kitchenSinkModel(): DataplaneModel {
  const b = (s: string) => [...Buffer.from(s)];
  const user: FirewallRule[] = [
    rule({ direction: 'EGRESS', protocol: 6, sport: { first: 1024, last: 65535 }, dport: { first: 22, last: 22 }, target: 'REJECT' }),
    rule({ direction: 'INGRESS', protocol: 17, dport: { first: 0, last: 0 }, target: 'REJECT' }),
    rule({ protocol: 132, dport: { first: 9, last: 10 }, target: 'DROP' }),
    rule({ protocol: 1, icmp: { type: 8 } }),
    rule({ protocol: 1, icmp: { type: 3, code: 4 }, target: 'REJECT' }),
    rule({ protocol: 47 }),
    rule({ protocol: 50 }),
    rule({ protocol: 6, sport: { first: 0, last: 65535 } }),
    rule({ src: { address: '10.0.0.0', prefixLength: 8 }, dst: { address: '192.168.0.0', prefixLength: 16 }, target: 'REJECT' }),
    rule({ direction: 'EGRESS', dst: { address: '0.0.0.0', prefixLength: 0 } }),
    rule({ stringMatch: { algo: 'kmp', bytes: b('GET "/a\\b" |x| #') }, target: 'DROP' }),
    rule({ stringMatch: { algo: 'bm', bytes: [0, 255, 10, 13, 34, 92] }, target: 'DROP' }),
    rule({ stringMatch: { algo: 'bm', bytes: Array(128).fill(0x41) }, target: 'DROP' }),
    hl('Rate', 60, 'minute'),
    hl('Rate', 7, 'minute', { burst: 9 }),
    hl('Rate', 120, 'hour', { keys: ['dstport', 'srcip'] }),
    hl('Rate', 3, 'hour', { mode: 'above', expireMs: 3_600_000 }),
    hl('Rate', 1, 'day', { burst: 1, keys: ['srcip', 'srcport', 'dstip', 'dstport'] }),
    hl('Rate', 24, 'day', { burst: 30 }),
    hl('Rate', 86400, 'day'),
    hl('Rate', 1_000_000, 'second', { burst: 1_000_000 }),
    hl('AVeryLongName15', 5, 'second', { expireMs: 1 }),
    rule({ comment: 'x" -j DROP -m comment --comment "y' }),
    rule({ comment: 'ends in a backslash \\' }),
    rule({ comment: 'COMMIT' }),
    rule({ comment: '# not a comment line' }),
    rule({ comment: "$(reboot) `id` 'single' ünïcødé ✓" }),
    rule({ comment: '"'.repeat(255) }),
    rule({ direction: 'EGRESS', target: 'REJECT', comment: 'protocol-less reject' }),
  ];
  const hosts: DataplaneHost[] = [
    { id: 'sink.gwa.demo', ipv4: '192.168.0.100', markIndex: 7, groups: ['IPS_GROUP_PREPAID1', 'IPS_GROUP_WITH_A_VERY_LONG_NAME_1'], firewall: { admin: [hl('Rate', 5, 'second')], user } },
    { id: 'max.gwa.demo', ipv4: '192.168.0.101', markIndex: 65534, groups: ['IPS_GROUP_PREPAID1'], firewall: { admin: [], user: [hl('Rate', 5, 'second'), rule({ direction: 'INGRESS', target: 'DROP' })] } },
    { id: 'none.gwa.demo', ipv4: '192.168.0.102', markIndex: 8, groups: [], firewall: { admin: [], user: [] } },
  ];
  return modelOf(hosts);
}

describe('firewall in the kernel: iptables-restore and iptables-save', { skip: SKIP, timeout: E2E_TIMEOUT_MS }, () => {
  const scratch = new ScratchNamespaces();
  let ns = '';
  before(async () => {
    ns = await scratch.add('fw');
  });
  after(() => scratch.down());

  /** Restores `model` into a fresh namespace (after creating its group sets) and checks what iptables-save gives back. */
  async function roundTrip(model: DataplaneModel): Promise<void> {
    const ns = await scratch.add('k');
    try {
      await restoreAndCompare(ns, model);
    } finally {
      await scratch.remove('k');
    }
  }

  async function restoreAndCompare(ns: string, model: DataplaneModel): Promise<void> {
    for (const group of model.groups.keys()) await inNs(ns, 'ipset', ['create', '-exist', groupSetName(model, group), 'hash:ip']);
    const r = renderFirewall(model);
    await inNs(ns, 'iptables-restore', ['--test', '--noflush'], restoreText(r));
    await inNs(ns, 'iptables-restore', ['--noflush'], restoreText(r));
    const want = r.filter.trimEnd().split('\n').map(numericProtocols);
    assert.deepEqual((await savedLines(ns, model.prefix)).map(numericProtocols), want);
  }

  it('accepts the demo policies, and iptables-save prints exactly the rendered text', async () => {
    const r = renderFirewall(demoModel());
    await inNs(ns, 'iptables-restore', ['--test', '--noflush'], restoreText(r));
    await inNs(ns, 'iptables-restore', ['--noflush'], restoreText(r));
    assert.deepEqual(await savedLines(ns, 'RGW'), r.filter.trimEnd().split('\n'));
    // hashlimit tables of their own, one per rule
    const { stdout } = await inNs(ns, 'ls', ['/proc/net/ipt_hashlimit']);
    assert.deepEqual(stdout.split('\n').filter(Boolean).sort(), ['DnsLanHosts-1', 'DnsLanHosts-2']);
  });

  it('re-applying replaces our chains instead of appending to them', async () => {
    const r = renderFirewall(demoModel());
    await inNs(ns, 'iptables-restore', ['--noflush'], restoreText(r));
    await inNs(ns, 'iptables-restore', ['--noflush'], restoreText(r));
    assert.deepEqual(await savedLines(ns, 'RGW'), r.filter.trimEnd().split('\n'));
  });

  it('round-trips every match kind, rewritten rates and hostile comments exactly', async () => {
    await roundTrip(kitchenSinkModel());
  });

  it('the jump goes into FORWARD as rendered', async () => {
    const r = renderFirewall(demoModel());
    for (const jump of r.jumps) await inNs(ns, 'iptables', ['-t', 'filter', '-I', 'FORWARD', '1', ...jump.split(' ')]);
    const { stdout } = await inNs(ns, 'iptables-save', ['-t', 'filter']);
    assert.ok(stdout.split('\n').includes('-A FORWARD -j RGW-FW'), stdout);
  });

  it('--test only parses: kernel refusals show up when applying, which is atomic, so firewallProblems must catch them', async () => {
    const before = await savedLines(ns, 'RGW');
    const overflow = rule({ direction: 'EGRESS', protocol: 17, hashlimit: { name: 'Slow', mode: 'upto', rate: 1, per: 'day', keys: [], burst: 2 } });
    const m = modelOf([{ id: 'h.gwa.demo', ipv4: '192.168.0.100', markIndex: 1, groups: [], firewall: { admin: [], user: [overflow] } }]);
    assert.match(firewallProblems(m).map((p) => p.reason).join('\n'), /overflows the kernel's token bucket/);
    // the same rule with a burst the kernel takes, then edited to the one it refuses
    const ok = renderFirewall(modelOf([{ ...m.hosts[0], firewall: { admin: [], user: [{ ...overflow, hashlimit: { ...overflow.hashlimit!, burst: 1 } }] } }]));
    const bad = restoreText(ok).replace('--hashlimit-burst 1 ', '--hashlimit-burst 2 ');
    assert.notEqual(bad, restoreText(ok));
    const test = await run('ip', ['netns', 'exec', ns, 'iptables-restore', '--test', '--noflush'], { input: bad });
    assert.equal(test.code, 0, 'iptables-nft --test does not ask the kernel');
    const real = await run('ip', ['netns', 'exec', ns, 'iptables-restore', '--noflush'], { input: bad });
    assert.notEqual(real.code, 0);
    assert.match(real.stderr, /out of range|ERANGE/i);
    assert.deepEqual(await savedLines(ns, 'RGW'), before, 'a refused restore changes nothing');
  });
});

/**
 *   host ns  eth0 192.168.0.100/24 --- lan0 192.168.0.1/24  router ns (FORWARD -j RGW-FW)
 *                                      wan0 100.64.1.1/24 --- eth0 100.64.1.2/24  other ns (UDP echo, TCP :24)
 */
const SERVER = `
const dgram = require('node:dgram'); const net = require('node:net');
const ports = [23, 25, 26, 27]; let pending = ports.length + 1;
const ready = () => { if (--pending === 0) console.log('ready'); };
for (const port of ports) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => { console.log('udp ' + port + ' ' + m); s.send(m, r.port, r.address); });
  s.bind(port, ready);
}
net.createServer((c) => { console.log('tcp 24'); c.end('hi'); }).listen(24, ready);
`;

/** Sends each message from one UDP socket (20 ms apart), then prints the replies it got within 800 ms. */
const UDP_CLIENT = `
const dgram = require('node:dgram');
const [addr, port, ...msgs] = process.argv.slice(1);
const s = dgram.createSocket('udp4'); const replies = [];
s.on('message', (m) => replies.push(String(m))); s.on('error', () => {});
s.bind(0, async () => {
  for (const m of msgs) { s.send(m, Number(port), addr); await new Promise((r) => setTimeout(r, 20)); }
  setTimeout(() => { console.log(JSON.stringify(replies)); process.exit(0); }, 800);
});
`;

const TCP_CLIENT = `
const net = require('node:net');
const c = net.connect(Number(process.argv[2]), process.argv[1]);
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 3000);
c.on('connect', () => { console.log('connected'); process.exit(0); });
c.on('error', (e) => { console.log(e.code); process.exit(0); });
`;

describe('firewall in the kernel: forwarded packets', { skip: SKIP, timeout: E2E_TIMEOUT_MS }, () => {
  const scratch = new ScratchNamespaces();
  const [h, r, o] = ['h', 'r', 'o'].map((n) => scratch.ns(n));
  const OTHER = '100.64.1.2';
  let server: NsProcess;

  const model = modelOf([
    {
      id: 'hosta.gwa.demo',
      ipv4: '192.168.0.100',
      markIndex: 1,
      groups: [],
      firewall: {
        admin: [rule({ direction: 'EGRESS', protocol: 17, dport: { first: 23, last: 23 }, target: 'DROP', comment: 'no UDP 23' })],
        user: [
          rule({ direction: 'EGRESS', protocol: 6, dport: { first: 24, last: 24 }, target: 'REJECT', comment: 'reset TCP 24' }),
          rule({ direction: 'EGRESS', protocol: 17, dport: { first: 26, last: 26 }, target: 'DROP', hashlimit: { name: 'Udp26', mode: 'above', rate: 1, per: 'second', keys: ['srcip'], burst: 1 } }),
          rule({ direction: 'EGRESS', protocol: 17, dport: { first: 27, last: 27 }, target: 'REJECT', stringMatch: { algo: 'bm', bytes: [...Buffer.from('nsfw')] } }),
          rule({ direction: 'EGRESS', comment: 'Allow outgoing' }),
          rule({ direction: 'INGRESS', target: 'DROP', comment: 'No incoming' }),
        ],
      },
    },
  ]);

  before(async () => {
    for (const n of ['h', 'r', 'o']) await scratch.add(n);
    await run('ip', ['-n', r, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h], { check: true });
    await run('ip', ['-n', r, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', o], { check: true });
    const cmds: [string, string[]][] = [
      [h, ['addr', 'add', '192.168.0.100/24', 'dev', 'eth0']],
      [h, ['link', 'set', 'eth0', 'up']],
      [h, ['route', 'add', 'default', 'via', '192.168.0.1']],
      [r, ['addr', 'add', '192.168.0.1/24', 'dev', 'lan0']],
      [r, ['addr', 'add', '100.64.1.1/24', 'dev', 'wan0']],
      [r, ['link', 'set', 'lan0', 'up']],
      [r, ['link', 'set', 'wan0', 'up']],
      [o, ['addr', 'add', `${OTHER}/24`, 'dev', 'eth0']],
      [o, ['link', 'set', 'eth0', 'up']],
      [o, ['route', 'add', '192.168.0.0/24', 'via', '100.64.1.1']],
    ];
    for (const [n, args] of cmds) await run('ip', ['-n', n, ...args], { check: true });
    await inNs(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);

    const fw = renderFirewall(model);
    await inNs(r, 'iptables-restore', ['--noflush'], restoreText(fw));
    for (const jump of fw.jumps) await inNs(r, 'iptables', ['-t', 'filter', '-I', 'FORWARD', '1', ...jump.split(' ')]);

    server = scratch.spawn('o', process.execPath, ['-e', SERVER]);
    await server.ready((line, stream) => stream === 'stdout' && line === 'ready', 10_000);
  });

  after(() => scratch.down());

  async function udp(from: string, to: string, port: number, ...msgs: string[]): Promise<string[]> {
    const { stdout } = await inNs(from, process.execPath, ['-e', UDP_CLIENT, to, String(port), ...msgs]);
    return JSON.parse(stdout) as string[];
  }
  const serverLines = () => server.lines.filter((l) => l.stream === 'stdout').map((l) => l.text);
  const received = (port: number) => serverLines().filter((l) => l.startsWith(`udp ${port} `)).map((l) => l.slice(`udp ${port} `.length));

  it('allowed traffic is forwarded, and its replies pass although INGRESS drops everything', async () => {
    assert.deepEqual(await udp(h, OTHER, 25, 'hello'), ['hello']);
    assert.deepEqual(received(25), ['hello']);
  });

  it('a DROP rule for UDP dport 23 really drops', async () => {
    assert.deepEqual(await udp(h, OTHER, 23, 'one', 'two'), []);
    assert.deepEqual(received(23), []);
    // the rule counted them
    const { stdout } = await inNs(r, 'iptables-save', ['-c', '-t', 'filter']);
    const counted = stdout.split('\n').find((l) => l.includes('"no UDP 23"'));
    assert.match(counted ?? '', /^\[2:\d+\] /, stdout);
  });

  it('REJECT on TCP answers with a reset (the server on :24 is never reached)', async () => {
    const { stdout } = await inNs(h, process.execPath, ['-e', TCP_CLIENT, OTHER, '24']);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    assert.ok(!serverLines().includes('tcp 24'));
  });

  it('a hashlimit rule judges every packet of a flow, not only the first', async () => {
    const replies = await udp(h, OTHER, 26, 'p1', 'p2', 'p3', 'p4', 'p5');
    const got = received(26);
    assert.ok(got.length >= 1 && got.length <= 2, `expected the burst of 1 to pass and the rest to be dropped, got ${JSON.stringify(got)}`);
    assert.equal(got[0], 'p1');
    assert.deepEqual(replies, got);
  });

  it('a string rule sees packets of an established flow', async () => {
    assert.deepEqual(await udp(h, OTHER, 27, 'hello', 'nsfw!', 'bye'), ['hello', 'bye']);
    assert.deepEqual(received(27), ['hello', 'bye']);
  });

  it('INGRESS DROP stops traffic started from outside', async () => {
    const { stdout } = await inNs(o, process.execPath, ['-e', TCP_CLIENT, '192.168.0.100', '22']);
    assert.equal(stdout.trim(), 'timeout');
  });
});
