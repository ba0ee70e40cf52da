// NAT discovery through real Linux NAT, in three network namespaces this file creates and always removes
// (rgwt<hex>-cli, -nat, -pub; packets stay inside them):
//
//   -cli  eth0 10.77.0.2/24 ---- lan0 10.77.0.1/24  -nat  wan0 198.51.100.1/24 ---- eth0 198.51.100.10/24  -pub
//         default via 10.77.0.1                      (nft rules per case)              198.51.100.11/24
//                                                                                  StunServer on .10 and .11,
//                                                                                  ports 3478 and 3479
//
// Each case loads an nft ruleset into -nat (masquerade, masquerade fully-random, per-destination SNAT,
// DNAT-based cone filtering, a stateful firewall without NAT, a UDP block), flushes conntrack, and runs
// discoverNat in -cli from its own local port. The result must name the behaviour the rules implement.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatDiscovery } from '../../src/stun/discover.js';
import { run } from '../support/netns.js';
import { ScratchNamespaces, kernelTestSkip } from '../support/scratch-ns.js';

const SKIP = kernelTestSkip(['/usr/sbin/nft', '/usr/sbin/ip'], 'nft and iproute2');

const AGENT = join(dirname(fileURLToPath(import.meta.url)), 'ns-agent.js');
const scratch = new ScratchNamespaces();
const NS = { cli: scratch.ns('cli'), nat: scratch.ns('nat'), pub: scratch.ns('pub') };
const A1 = '198.51.100.10';
const A2 = '198.51.100.11';
const NAT_WAN = '198.51.100.1';
const CLIENT = '10.77.0.2';

const inNs = (ns: string, cmd: string, args: readonly string[], input?: string) =>
  run('ip', ['netns', 'exec', ns, cmd, ...args], { check: true, input });
const ipIn = (ns: string, ...args: string[]) => run('ip', ['-n', ns, ...args], { check: true });

async function buildTopology(): Promise<void> {
  for (const node of Object.keys(NS)) await scratch.add(node);
  await ipIn(NS.nat, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.cli);
  await ipIn(NS.nat, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.pub);
  await ipIn(NS.cli, 'addr', 'add', `${CLIENT}/24`, 'dev', 'eth0');
  await ipIn(NS.cli, 'link', 'set', 'eth0', 'up');
  await ipIn(NS.cli, 'route', 'add', 'default', 'via', '10.77.0.1');
  await ipIn(NS.nat, 'addr', 'add', '10.77.0.1/24', 'dev', 'lan0');
  await ipIn(NS.nat, 'addr', 'add', `${NAT_WAN}/24`, 'dev', 'wan0');
  await ipIn(NS.nat, 'link', 'set', 'lan0', 'up');
  await ipIn(NS.nat, 'link', 'set', 'wan0', 'up');
  await inNs(NS.nat, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await ipIn(NS.pub, 'addr', 'add', `${A1}/24`, 'dev', 'eth0');
  await ipIn(NS.pub, 'addr', 'add', `${A2}/24`, 'dev', 'eth0');
  await ipIn(NS.pub, 'link', 'set', 'eth0', 'up');
  // only used by the cases without NAT (the client's own address reaches the server)
  await ipIn(NS.pub, 'route', 'add', '10.77.0.0/24', 'via', NAT_WAN);
}

/** Replaces the NAT namespace's whole ruleset (the namespace is ours) and forgets its connections. */
async function natRules(body: string): Promise<void> {
  await inNs(NS.nat, 'nft', ['-f', '-'], `flush ruleset\n${body ? `table ip rgwtstun {\n${body}\n}\n` : ''}`);
  await run('ip', ['netns', 'exec', NS.nat, 'conntrack', '-F'], {}); // best effort: each case also uses its own port
}

const MASQ = (flags = '') => `chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade ${flags}; }`;
/** Inbound to the client's mapped port goes to the client: from anyone (full cone) or from one address (restricted). */
const DNAT = (port: number, from?: string) =>
  `chain prerouting { type nat hook prerouting priority dstnat; iifname "wan0" ${from ? `ip saddr ${from} ` : ''}udp dport ${port} dnat to ${CLIENT}:${port}; }`;

async function discover(localPort: number, mode: 'auto' | 'rfc3489' = 'auto'): Promise<NatDiscovery> {
  const opts = { servers: [{ address: A1, port: 3478 }], timeoutMs: 500, retries: 2, localPort, mode };
  const r = await inNs(NS.cli, process.execPath, [AGENT, 'discover', JSON.stringify(opts)]);
  return JSON.parse(r.stdout) as NatDiscovery;
}

function explain(r: NatDiscovery): string {
  return JSON.stringify({ classic: r.classic, mapping: r.mapping, filtering: r.filtering, tests: r.details.tests, notes: r.details.notes }, null, 1);
}

interface Case {
  name: string;
  rules: (port: number) => string;
  mode?: 'auto' | 'rfc3489';
  want: Partial<Pick<NatDiscovery, 'classic' | 'mapping' | 'filtering' | 'method'>> & { mappedAddress?: string };
}

const CASES: Case[] = [
  { name: 'no NAT, forwarding open', rules: () => '', want: { classic: 'open', mapping: 'endpoint-independent', filtering: 'endpoint-independent', method: 'rfc5780', mappedAddress: CLIENT } },
  {
    name: 'no NAT, stateful firewall (established only inbound)',
    rules: () => 'chain forward { type filter hook forward priority filter; policy drop; ct state established,related accept; iifname "lan0" accept; }',
    want: { classic: 'symmetric udp firewall', filtering: 'address-and-port-dependent', mappedAddress: CLIENT },
  },
  {
    name: 'masquerade: endpoint-independent mapping, address-and-port-dependent filtering',
    rules: () => MASQ(),
    want: { classic: 'port restricted', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', mappedAddress: NAT_WAN },
  },
  {
    name: 'masquerade + DNAT of the mapped port from anyone: full cone',
    rules: (port) => `${MASQ()}\n${DNAT(port)}`,
    want: { classic: 'full cone', mapping: 'endpoint-independent', filtering: 'endpoint-independent', mappedAddress: NAT_WAN },
  },
  {
    name: 'masquerade + DNAT of the mapped port from the contacted server address only: restricted',
    rules: (port) => `${MASQ()}\n${DNAT(port, A1)}`,
    want: { classic: 'restricted', mapping: 'endpoint-independent', filtering: 'address-dependent', mappedAddress: NAT_WAN },
  },
  {
    name: 'masquerade fully-random: address-and-port-dependent mapping (symmetric)',
    rules: () => MASQ('fully-random'),
    want: { classic: 'symmetric', mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', mappedAddress: NAT_WAN },
  },
  {
    name: 'masquerade random: address-and-port-dependent mapping (symmetric)',
    rules: () => MASQ('random'),
    want: { classic: 'symmetric', mapping: 'address-and-port-dependent', mappedAddress: NAT_WAN },
  },
  {
    name: 'SNAT to one port per destination address: address-dependent mapping (symmetric)',
    rules: () =>
      `chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" ip daddr ${A1} meta l4proto udp snat to ${NAT_WAN}:41000; oifname "wan0" ip daddr ${A2} meta l4proto udp snat to ${NAT_WAN}:42000; }`,
    want: { classic: 'symmetric', mapping: 'address-dependent', filtering: 'address-and-port-dependent', mappedAddress: NAT_WAN },
  },
  {
    name: 'UDP to the server dropped: blocked',
    rules: () => `${MASQ()}\nchain forward { type filter hook forward priority filter; udp dport { 3478, 3479 } drop; }`,
    want: { classic: 'blocked', mapping: 'unknown', filtering: 'unknown', method: 'none' },
  },
  { name: 'classic RFC 3489 tests, masquerade: port restricted', mode: 'rfc3489', rules: () => MASQ(), want: { classic: 'port restricted', method: 'rfc3489' } },
  { name: 'classic RFC 3489 tests, restricted', mode: 'rfc3489', rules: (port) => `${MASQ()}\n${DNAT(port, A1)}`, want: { classic: 'restricted', method: 'rfc3489' } },
  { name: 'classic RFC 3489 tests, full cone', mode: 'rfc3489', rules: (port) => `${MASQ()}\n${DNAT(port)}`, want: { classic: 'full cone', method: 'rfc3489' } },
  { name: 'classic RFC 3489 tests, fully-random: symmetric', mode: 'rfc3489', rules: () => MASQ('fully-random'), want: { classic: 'symmetric', method: 'rfc3489' } },
];

describe('NAT discovery through Linux NAT in namespaces', { skip: SKIP, timeout: 120_000 }, () => {
  before(async () => {
    await buildTopology();
    const opts = { address: A1, port: 3478, alternateAddress: A2, alternatePort: 3479 };
    const server = scratch.spawn('pub', process.execPath, [AGENT, 'server', JSON.stringify(opts)]);
    await server.ready(/"ready"/, 10_000);
  });

  after(() => scratch.down());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const port = 40100 + i;
      await natRules(c.rules(port));
      const r = await discover(port, c.mode);
      for (const [k, v] of Object.entries(c.want)) {
        assert.equal((r as unknown as Record<string, unknown>)[k], v, `${k}\n${explain(r)}`);
      }
      if (r.classic !== 'blocked') {
        assert.deepEqual(r.server, { address: A1, port: 3478 });
        if (r.mappedAddress === CLIENT) assert.equal(r.mappedPort, port, 'no NAT: the mapped port is our own');
      }
      if (c.rules(port) === MASQ() && c.mode !== 'rfc3489') assert.equal(r.mappedPort, port, 'masquerade keeps the source port when it is free');
    });
  });

  it('the namespaces and the server are ours only: nothing of this test is in the root namespace', async () => {
    const r = await run('nft', ['list', 'tables']);
    assert.doesNotMatch(r.stdout, /rgwtstun/);
  });
});
