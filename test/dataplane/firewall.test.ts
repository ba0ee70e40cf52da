import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DataplaneHost, DataplaneModel } from '../../src/dataplane/model.js';
import {
  firewallProblems,
  groupSetName,
  hashlimitRateText,
  renderFirewall,
  type FirewallRender,
} from '../../src/dataplane/firewall.js';
import { loadPolicyFolder, type FirewallRule } from '../../src/policy/index.js';
import { POLICIES_DIR } from '../support/repo.js';
import { testbedModel } from '../support/dataplane-model.js';

/** A model around `hosts`, the demo testbed's interfaces. */
function modelOf(hosts: DataplaneHost[], over: Partial<DataplaneModel> = {}): DataplaneModel {
  const groups = new Map<string, string[]>();
  for (const h of hosts) for (const g of h.groups) groups.set(g, [...(groups.get(g) ?? []), h.ipv4]);
  return testbedModel({ poolAddresses: ['100.64.1.131'], hosts, groups, ...over });
}

/** The shipped demo policies as a model: hosts in id order get markIndex 1, 2, ... */
function demoModel(): DataplaneModel {
  const p = loadPolicyFolder(join(POLICIES_DIR, 'gwa.demo'));
  const hosts = [...p.hosts.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((h, i) => ({ id: h.id, ipv4: h.ipv4, markIndex: i + 1, groups: h.groups, firewall: h.firewall }));
  return modelOf(hosts);
}

let line = 10;
/** A rule: ANY/ACCEPT unless told otherwise, on its own line of p.yaml. */
function rule(over: Partial<FirewallRule> = {}): FirewallRule {
  return { priority: 0, direction: 'ANY', target: 'ACCEPT', file: 'p.yaml', line: line++, ...over };
}

function host(markIndex: number, user: FirewallRule[], admin: FirewallRule[] = [], ipv4 = `192.168.0.${99 + markIndex}`): DataplaneHost {
  return { id: `host${markIndex}.gwa.demo`, ipv4, markIndex, groups: [], firewall: { admin, user } };
}

/** The '-A CHAIN' rules of one chain, without the '-A CHAIN ' part. */
function chainRules(r: FirewallRender, chain: string): string[] {
  const head = `-A ${chain} `;
  return r.filter.split('\n').filter((l) => l.startsWith(head)).map((l) => l.slice(head.length));
}

/** The one rule a single-rule host renders to. */
function one(over: Partial<FirewallRule>): string {
  const rules = chainRules(renderFirewall(modelOf([host(1, [rule(over)])])), 'RGW-H-1');
  assert.equal(rules.length, 1);
  return rules[0];
}

const DEMO = `:RGW-FW - [0:0]
:RGW-H-1 - [0:0]
:RGW-H-2 - [0:0]
:RGW-REJECT - [0:0]
-A RGW-FW -m conntrack --ctstate RELATED -j ACCEPT
-A RGW-FW -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT
-A RGW-FW -s 192.168.0.100/32 -i lan0 -j RGW-H-1
-A RGW-FW -d 192.168.0.100/32 -o lan0 -j RGW-H-1
-A RGW-FW -s 192.168.0.101/32 -i lan0 -j RGW-H-2
-A RGW-FW -d 192.168.0.101/32 -o lan0 -j RGW-H-2
-A RGW-H-1 -s 192.168.0.100/32 -i lan0 -p udp -m udp --dport 53 -m hashlimit --hashlimit-above 5/sec --hashlimit-burst 50 --hashlimit-mode srcip --hashlimit-name DnsLanHosts-1 --hashlimit-htable-expire 1001 -m comment --comment "Host DNS limit" -j REJECT --reject-with icmp-port-unreachable
-A RGW-H-1 -d 192.168.0.100/32 -o lan0 -p icmp -m icmp --icmp-type 8/0 -m comment --comment "Allow incoming ping" -j ACCEPT
-A RGW-H-1 -d 192.168.0.100/32 -o lan0 -p tcp -m tcp --dport 23 -m comment --comment "Deny incoming telnet" -j DROP
-A RGW-H-1 -s 192.168.0.100/32 -i lan0 -m comment --comment "Allow outgoing" -j ACCEPT
-A RGW-H-1 -d 192.168.0.100/32 -o lan0 -m comment --comment "Allow incoming" -j ACCEPT
-A RGW-H-2 -s 192.168.0.101/32 -i lan0 -p udp -m udp --dport 53 -m hashlimit --hashlimit-above 5/sec --hashlimit-burst 50 --hashlimit-mode srcip --hashlimit-name DnsLanHosts-2 --hashlimit-htable-expire 1001 -m comment --comment "Host DNS limit" -j REJECT --reject-with icmp-port-unreachable
-A RGW-H-2 -s 192.168.0.101/32 -i lan0 -p udp -m udp --dport 53 -m string --hex-string "|046e736677|" --algo bm -m comment --comment "Forbidden DNS domain" -j REJECT --reject-with icmp-port-unreachable
-A RGW-H-2 -s 192.168.0.101/32 -d 8.8.8.8/32 -i lan0 -p udp -m udp --dport 53 -m comment --comment "No DNS to 8.8.8.8" -j DROP
-A RGW-H-2 -s 192.168.0.101/32 -i lan0 -m comment --comment "Allow outgoing" -j ACCEPT
-A RGW-H-2 -d 192.168.0.101/32 -o lan0 -m comment --comment "Allow incoming" -j ACCEPT
-A RGW-REJECT -p tcp -j REJECT --reject-with tcp-reset
-A RGW-REJECT -j REJECT --reject-with icmp-port-unreachable
`;

describe('renderFirewall: the demo policies', () => {
  it('renders policies/gwa.demo exactly', () => {
    const r = renderFirewall(demoModel());
    assert.equal(r.filter, DEMO);
    assert.deepEqual(r.jumps, ['-j RGW-FW']);
    assert.deepEqual(r.chains, ['RGW-FW', 'RGW-H-1', 'RGW-H-2', 'RGW-REJECT']);
  });

  it('has no problems', () => assert.deepEqual(firewallProblems(demoModel()), []));

  it('is deterministic and independent of the order hosts are listed in', () => {
    const m = demoModel();
    assert.equal(renderFirewall(m).filter, renderFirewall(demoModel()).filter);
    assert.equal(renderFirewall({ ...m, hosts: [...m.hosts].reverse() }).filter, DEMO);
  });

  it('follows the model prefix and LAN interface', () => {
    const r = renderFirewall({ ...demoModel(), prefix: 'GW2', lanInterface: 'br-lan' });
    assert.deepEqual(r.chains, ['GW2-FW', 'GW2-H-1', 'GW2-H-2', 'GW2-REJECT']);
    assert.deepEqual(r.jumps, ['-j GW2-FW']);
    assert.ok(r.filter.includes('-A GW2-FW -s 192.168.0.100/32 -i br-lan -j GW2-H-1\n'));
    assert.ok(!r.filter.includes('RGW'));
  });
});

describe('renderFirewall: one match at a time', () => {
  const H = '192.168.0.100/32';
  const cases: { name: string; rule: Partial<FirewallRule>; want: string }[] = [
    // direction
    { name: 'EGRESS: from the host, in from the LAN', rule: { direction: 'EGRESS' }, want: `-s ${H} -i lan0 -j ACCEPT` },
    { name: 'INGRESS: to the host, out to the LAN', rule: { direction: 'INGRESS', target: 'DROP' }, want: `-d ${H} -o lan0 -j DROP` },
    { name: 'ANY: no direction test (the chain only sees the host)', rule: { target: 'DROP' }, want: '-j DROP' },
    { name: 'EGRESS with dst', rule: { direction: 'EGRESS', dst: { address: '8.8.8.8', prefixLength: 32 } }, want: `-s ${H} -d 8.8.8.8/32 -i lan0 -j ACCEPT` },
    { name: 'INGRESS with src network', rule: { direction: 'INGRESS', src: { address: '100.64.0.0', prefixLength: 16 } }, want: `-s 100.64.0.0/16 -d ${H} -o lan0 -j ACCEPT` },
    { name: "EGRESS src containing the host adds nothing", rule: { direction: 'EGRESS', src: { address: '192.168.0.0', prefixLength: 24 } }, want: `-s ${H} -i lan0 -j ACCEPT` },
    { name: "INGRESS dst containing the host adds nothing", rule: { direction: 'INGRESS', dst: { address: '192.168.0.100', prefixLength: 32 } }, want: `-d ${H} -o lan0 -j ACCEPT` },
    { name: 'ANY with src and dst as written', rule: { src: { address: '10.0.0.0', prefixLength: 8 }, dst: { address: '192.168.0.0', prefixLength: 24 } }, want: '-s 10.0.0.0/8 -d 192.168.0.0/24 -j ACCEPT' },
    { name: 'a /0 prefix is no match at all', rule: { src: { address: '0.0.0.0', prefixLength: 0 } }, want: '-j ACCEPT' },
    // protocol and ports
    { name: 'tcp by name', rule: { protocol: 6 }, want: '-p tcp -j ACCEPT' },
    { name: 'udp by name', rule: { protocol: 17 }, want: '-p udp -j ACCEPT' },
    { name: 'icmp by name', rule: { protocol: 1 }, want: '-p icmp -j ACCEPT' },
    { name: 'sctp by name', rule: { protocol: 132 }, want: '-p sctp -j ACCEPT' },
    { name: 'other protocols by number', rule: { protocol: 47 }, want: '-p 47 -j ACCEPT' },
    { name: 'protocol 0 is any', rule: { protocol: 0 }, want: '-j ACCEPT' },
    { name: 'tcp dport', rule: { protocol: 6, dport: { first: 22, last: 22 } }, want: '-p tcp -m tcp --dport 22 -j ACCEPT' },
    { name: 'udp sport and dport range, sport first', rule: { protocol: 17, dport: { first: 1000, last: 2000 }, sport: { first: 53, last: 53 } }, want: '-p udp -m udp --sport 53 --dport 1000:2000 -j ACCEPT' },
    { name: 'sctp ports', rule: { protocol: 132, dport: { first: 9, last: 10 } }, want: '-p sctp -m sctp --dport 9:10 -j ACCEPT' },
    { name: 'port 0', rule: { protocol: 17, dport: { first: 0, last: 0 } }, want: '-p udp -m udp --dport 0 -j ACCEPT' },
    { name: 'the full range 0:65535 is no match', rule: { protocol: 6, sport: { first: 0, last: 65535 } }, want: '-p tcp -j ACCEPT' },
    // icmp
    { name: 'icmp type, any code', rule: { protocol: 1, icmp: { type: 8 } }, want: '-p icmp -m icmp --icmp-type 8 -j ACCEPT' },
    { name: 'icmp type and code', rule: { protocol: 1, icmp: { type: 3, code: 4 } }, want: '-p icmp -m icmp --icmp-type 3/4 -j ACCEPT' },
    { name: 'icmp type 0 code 0', rule: { protocol: 1, icmp: { type: 0, code: 0 } }, want: '-p icmp -m icmp --icmp-type 0/0 -j ACCEPT' },
    // string
    { name: 'printable pattern as --string', rule: { stringMatch: { algo: 'kmp', bytes: [...Buffer.from('GET /admin')] } }, want: '-m string --string "GET /admin" --algo kmp -j ACCEPT' },
    { name: 'quotes and backslashes in a --string are escaped', rule: { stringMatch: { algo: 'bm', bytes: [...Buffer.from('a"b\\c|d')] } }, want: '-m string --string "a\\"b\\\\c|d" --algo bm -j ACCEPT' },
    { name: 'a non-printable byte makes it a --hex-string', rule: { stringMatch: { algo: 'bm', bytes: [4, ...Buffer.from('nsfw')] } }, want: '-m string --hex-string "|046e736677|" --algo bm -j ACCEPT' },
    { name: 'UTF-8 is hex', rule: { stringMatch: { algo: 'bm', bytes: [...Buffer.from('é')] } }, want: '-m string --hex-string "|c3a9|" --algo bm -j ACCEPT' },
    // hashlimit
    {
      name: 'hashlimit upto, default burst, expiry as the unit',
      rule: { hashlimit: { name: 'L', mode: 'upto', rate: 5, per: 'second', keys: [] } },
      want: '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name L-1 -j ACCEPT',
    },
    {
      name: 'hashlimit modes in iptables order',
      rule: { hashlimit: { name: 'L', mode: 'above', rate: 3, per: 'hour', keys: ['dstport', 'srcip', 'dstip', 'srcport'], burst: 7 } },
      want: '-m hashlimit --hashlimit-above 3/hour --hashlimit-burst 7 --hashlimit-mode srcip,srcport,dstip,dstport --hashlimit-name L-1 -j ACCEPT',
    },
    {
      name: '60/min is printed 1/sec and keeps its one-minute default expiry',
      rule: { hashlimit: { name: 'L', mode: 'upto', rate: 60, per: 'minute', keys: [] } },
      want: '-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name L-1 --hashlimit-htable-expire 60000 -j ACCEPT',
    },
    {
      name: 'an explicit expiry equal to the printed unit is left out',
      rule: { hashlimit: { name: 'L', mode: 'upto', rate: 2, per: 'minute', keys: ['srcip'], expireMs: 60000 } },
      want: '-m hashlimit --hashlimit-upto 2/min --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name L-1 -j ACCEPT',
    },
    // verdicts
    { name: 'REJECT on tcp: reset', rule: { protocol: 6, target: 'REJECT' }, want: '-p tcp -j REJECT --reject-with tcp-reset' },
    { name: 'REJECT on udp: port unreachable', rule: { protocol: 17, target: 'REJECT' }, want: '-p udp -j REJECT --reject-with icmp-port-unreachable' },
    { name: 'REJECT on icmp: port unreachable', rule: { protocol: 1, target: 'REJECT' }, want: '-p icmp -j REJECT --reject-with icmp-port-unreachable' },
    { name: 'REJECT without protocol: the per-packet chain', rule: { target: 'REJECT' }, want: '-j RGW-REJECT' },
    // comments
    { name: 'comment', rule: { comment: 'Allow outgoing' }, want: '-m comment --comment "Allow outgoing" -j ACCEPT' },
    { name: 'comment quotes and backslashes escaped', rule: { comment: 'say "hi" \\ bye' }, want: '-m comment --comment "say \\"hi\\" \\\\ bye" -j ACCEPT' },
    { name: 'comment trying to close the quote and add a verdict', rule: { comment: 'x" -j DROP -m comment --comment "y', target: 'DROP' }, want: '-m comment --comment "x\\" -j DROP -m comment --comment \\"y" -j DROP' },
    { name: 'comment ending in a backslash', rule: { comment: 'x\\' }, want: '-m comment --comment "x\\\\" -j ACCEPT' },
    { name: 'empty comment: none', rule: { comment: '' }, want: '-j ACCEPT' },
    { name: 'a comment of letters, digits, _ and - stays bare (as iptables-save prints it)', rule: { comment: 'COMMIT_1-a' }, want: '-m comment --comment COMMIT_1-a -j ACCEPT' },
    { name: "single quotes are escaped too (as iptables-save does)", rule: { comment: "it's" }, want: `-m comment --comment "it\\'s" -j ACCEPT` },
    // everything
    {
      name: 'all matches, in evaluation order (the hashlimit last, so only matching packets spend tokens)',
      rule: {
        direction: 'EGRESS',
        target: 'REJECT',
        protocol: 17,
        dst: { address: '100.64.0.0', prefixLength: 10 },
        sport: { first: 1024, last: 65535 },
        dport: { first: 53, last: 53 },
        stringMatch: { algo: 'bm', bytes: [...Buffer.from('evil')] },
        hashlimit: { name: 'Dns', mode: 'above', rate: 10, per: 'second', keys: ['srcip'], burst: 20, expireMs: 2000 },
        comment: 'c d',
      },
      want: `-s ${H} -d 100.64.0.0/10 -i lan0 -p udp -m udp --sport 1024:65535 --dport 53 -m string --string "evil" --algo bm -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name Dns-1 --hashlimit-htable-expire 2000 -m comment --comment "c d" -j REJECT --reject-with icmp-port-unreachable`,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(one(c.rule), c.want));
});

describe('hashlimitRateText: the rate as iptables-save prints it', () => {
  const cases: [number, 'second' | 'minute' | 'hour' | 'day', string, number][] = [
    [5, 'second', '5/sec', 1000],
    [1000000, 'second', '1000000/sec', 1000],
    [60, 'minute', '1/sec', 1000],
    [7, 'minute', '7/min', 60000],
    [120, 'hour', '2/min', 60000],
    [3, 'hour', '3/hour', 3600000],
    [1, 'day', '1/day', 86400000],
    [24, 'day', '1/hour', 3600000],
    [86400, 'day', '1/sec', 1000],
    [7, 'day', '7/day', 86400000],
    [3, 'second', '3/sec', 1000],
  ];
  for (const [rate, per, text, unitMs] of cases) {
    it(`${rate}/${per} -> ${text}`, () => assert.deepEqual(hashlimitRateText({ rate, per }), { text, unitMs }));
  }
});

describe('renderFirewall: ordering and dispatch', () => {
  it('puts FIREWALL_ADMIN before FIREWALL_USER and keeps each list in its given order', () => {
    const admin = [rule({ priority: 5, comment: 'a1' }), rule({ priority: 9, comment: 'a2' })];
    const user = [rule({ priority: 0, comment: 'u1' }), rule({ priority: 1, comment: 'u2' })];
    const r = renderFirewall(modelOf([host(1, user, admin)]));
    assert.deepEqual(
      chainRules(r, 'RGW-H-1').map((l) => /--comment (\w+)/.exec(l)![1]),
      ['a1', 'a2', 'u1', 'u2'],
    );
  });

  it('dispatches hosts in markIndex order, only the directions they have rules for, and skips hosts without rules', () => {
    const hosts = [
      host(3, [rule({ direction: 'INGRESS' })]),
      host(1, [rule({ direction: 'EGRESS' })]),
      host(2, []),
      host(4, [rule({ direction: 'EGRESS' }), rule({ direction: 'INGRESS' })]),
    ];
    const r = renderFirewall(modelOf(hosts));
    assert.deepEqual(r.chains, ['RGW-FW', 'RGW-H-1', 'RGW-H-3', 'RGW-H-4', 'RGW-REJECT']);
    assert.deepEqual(chainRules(r, 'RGW-FW'), [
      '-m conntrack --ctstate RELATED -j ACCEPT',
      '-m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT',
      '-s 192.168.0.100/32 -i lan0 -j RGW-H-1',
      '-d 192.168.0.102/32 -o lan0 -j RGW-H-3',
      '-s 192.168.0.103/32 -i lan0 -j RGW-H-4',
      '-d 192.168.0.103/32 -o lan0 -j RGW-H-4',
    ]);
  });

  it('lists chains in byte order, as iptables-save does, while dispatch keeps markIndex order', () => {
    const r = renderFirewall(modelOf([host(10, [rule({ direction: 'EGRESS' })]), host(2, [rule({ direction: 'EGRESS' })])]));
    assert.deepEqual(r.chains, ['RGW-FW', 'RGW-H-10', 'RGW-H-2', 'RGW-REJECT']);
    assert.deepEqual(
      r.filter.split('\n').filter((l) => l.startsWith('-A ')).map((l) => l.split(' ')[1]),
      ['RGW-FW', 'RGW-FW', 'RGW-FW', 'RGW-FW', 'RGW-H-10', 'RGW-H-2', 'RGW-REJECT', 'RGW-REJECT'],
    );
    assert.deepEqual(chainRules(r, 'RGW-FW').slice(2), ['-s 192.168.0.101/32 -i lan0 -j RGW-H-2', '-s 192.168.0.109/32 -i lan0 -j RGW-H-10']);
  });

  it('an ANY rule is dispatched both ways', () => {
    assert.deepEqual(chainRules(renderFirewall(modelOf([host(1, [rule()])])), 'RGW-FW').slice(2), [
      '-s 192.168.0.100/32 -i lan0 -j RGW-H-1',
      '-d 192.168.0.100/32 -o lan0 -j RGW-H-1',
    ]);
  });

  it('with no hosts: the static chains only', () => {
    assert.equal(
      renderFirewall(modelOf([])).filter,
      ':RGW-FW - [0:0]\n:RGW-REJECT - [0:0]\n-A RGW-FW -m conntrack --ctstate RELATED -j ACCEPT\n' +
        '-A RGW-FW -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT\n' +
        '-A RGW-REJECT -p tcp -j REJECT --reject-with tcp-reset\n-A RGW-REJECT -j REJECT --reject-with icmp-port-unreachable\n',
    );
  });

  it('declares every chain before any rule', () => {
    const lines = renderFirewall(demoModel()).filter.trimEnd().split('\n');
    const firstRule = lines.findIndex((l) => l.startsWith('-A '));
    assert.ok(lines.slice(0, firstRule).every((l) => /^:[A-Z0-9-]+ - \[0:0\]$/.test(l)));
    assert.ok(lines.slice(firstRule).every((l) => l.startsWith('-A ')));
  });
});

describe('renderFirewall: hashlimit names', () => {
  const hl = (name: string) => rule({ hashlimit: { name, mode: 'above', rate: 1, per: 'second', keys: [] } });
  const names = (r: FirewallRender) => [...r.filter.matchAll(/--hashlimit-name (\S+)/g)].map((m) => m[1]);

  it('two hosts with the same name get their own tables', () => {
    assert.deepEqual(names(renderFirewall(modelOf([host(1, [hl('Dns')]), host(2, [hl('Dns')])]))), ['Dns-1', 'Dns-2']);
  });

  it('one host using a name twice (admin and user) gets two tables', () => {
    assert.deepEqual(names(renderFirewall(modelOf([host(1, [hl('Dns'), hl('Dns')], [hl('Dns')])]))), ['Dns-1', 'Dns_1-1', 'Dns_2-1']);
  });

  it('long names are cut to 15 characters, and names cut alike still differ', () => {
    const got = names(renderFirewall(modelOf([host(1, [hl('ABCDEFGHIJKLMN1'), hl('ABCDEFGHIJKLMN2'), hl('ABCDEFGHIJKLMN3')]), host(36, [hl('ABCDEFGHIJKLMN1')])])));
    assert.deepEqual(got, ['ABCDEFGHIJKLM-1', 'ABCDEFGHIJK_1-1', 'ABCDEFGHIJK_2-1', 'ABCDEFGHIJKL-10']);
  });

  it('a subscriber name that looks like a derived one does not collide', () => {
    assert.deepEqual(names(renderFirewall(modelOf([host(1, [hl('X'), hl('X'), hl('X_1')])]))), ['X-1', 'X_1-1', 'X_1_1-1']);
  });

  it('every name is unique, at most 15 characters, of letters, digits, - and _', () => {
    const hosts = Array.from({ length: 80 }, (_, i) => host(i + 1, [hl('SameNameForAll1'), hl('SameNameForAll1'), hl('Short')], [], `10.0.${i}.1`));
    const got = names(renderFirewall(modelOf(hosts)));
    assert.equal(got.length, 240);
    assert.equal(new Set(got).size, 240);
    for (const n of got) assert.match(n, /^[A-Za-z0-9_-]{1,15}$/);
  });

  it('do not depend on the order hosts are listed in', () => {
    const hosts = [host(1, [hl('N'), hl('N')]), host(2, [hl('N')])];
    assert.equal(renderFirewall(modelOf(hosts)).filter, renderFirewall(modelOf([...hosts].reverse())).filter);
  });
});

describe('groupSetName', () => {
  const m = { prefix: 'RGW' };
  it('is <prefix lowercased>-g-<name>', () => {
    assert.equal(groupSetName(m, 'IPS_GROUP_PREPAID1'), 'rgw-g-IPS_GROUP_PREPAID1');
    assert.equal(groupSetName({ prefix: 'GW2' }, 'a.b-c'), 'gw2-g-a.b-c');
  });
  it('replaces characters ipset names should not carry', () => assert.equal(groupSetName(m, 'a b/c'), 'rgw-g-a_b_c'));
  it('keeps case (ipset names are case-sensitive)', () => assert.notEqual(groupSetName(m, 'Grp'), groupSetName(m, 'grp')));
  it('fits 31 characters exactly without hashing', () => {
    const name = 'x'.repeat(25);
    assert.equal(groupSetName(m, name), `rgw-g-${name}`);
    assert.equal(groupSetName(m, name).length, 31);
  });
  it('hashes longer names deterministically, at most 31 characters, distinct for a shared head', () => {
    const a = groupSetName(m, 'IPS_GROUP_VERY_LONG_NAME_NUMBER_1');
    const b = groupSetName(m, 'IPS_GROUP_VERY_LONG_NAME_NUMBER_2');
    assert.match(a, /^rgw-g-IPS_GROUP_VERY_LON-[0-9a-f]{6}$/);
    assert.equal(a.length, 31);
    assert.notEqual(a, b);
    assert.equal(a, groupSetName(m, 'IPS_GROUP_VERY_LONG_NAME_NUMBER_1'));
  });
  it('the rendered filter references no group set (rules cannot name groups)', () => {
    const r = renderFirewall(demoModel());
    assert.ok(!r.filter.includes('match-set'));
  });
});

describe('firewallProblems', () => {
  const at = { file: 'x.yaml', line: 42 };
  const cases: { name: string; rule: Partial<FirewallRule>; key: (string | number)[]; reason: RegExp }[] = [
    { name: 'empty string pattern', rule: { stringMatch: { algo: 'bm', bytes: [] } }, key: ['string'], reason: /empty pattern/ },
    { name: 'string pattern over 128 bytes', rule: { stringMatch: { algo: 'bm', bytes: Array(129).fill(65) } }, key: ['string'], reason: /at most 128/ },
    { name: 'hashlimit rate 0', rule: { hashlimit: { name: 'L', mode: 'above', rate: 0, per: 'second', keys: [] } }, key: ['hashlimit', 'hashlimit-above'], reason: /not a positive whole number/ },
    { name: 'hashlimit faster than the kernel counts', rule: { hashlimit: { name: 'L', mode: 'upto', rate: 1_000_001, per: 'second', keys: [] } }, key: ['hashlimit', 'hashlimit-upto'], reason: /too fast/ },
    { name: 'hashlimit bucket overflow (1/day, burst 2)', rule: { hashlimit: { name: 'L', mode: 'upto', rate: 1, per: 'day', keys: [], burst: 2 } }, key: ['hashlimit', 'hashlimit-burst'], reason: /overflows/ },
    { name: 'hashlimit bucket overflow with the default burst', rule: { hashlimit: { name: 'L', mode: 'upto', rate: 1, per: 'day', keys: [] } }, key: ['hashlimit', 'hashlimit-burst'], reason: /burst 5 .*overflows/ },
    { name: 'hashlimit name not usable', rule: { hashlimit: { name: 'a/b', mode: 'upto', rate: 1, per: 'second', keys: [] } }, key: ['hashlimit', 'hashlimit-name'], reason: /1 to 15/ },
    { name: 'ICMP type 255 means any type to iptables', rule: { protocol: 1, icmp: { type: 255 } }, key: ['icmp'], reason: /"any type"/ },
    { name: 'icmp match without protocol 1', rule: { protocol: 6, icmp: { type: 8 } }, key: ['icmp'], reason: /needs protocol 1/ },
    { name: 'ports without a port protocol', rule: { protocol: 1, dport: { first: 1, last: 1 } }, key: ['dport'], reason: /ports need protocol/ },
    { name: 'ports without any protocol', rule: { sport: { first: 1, last: 1 } }, key: ['sport'], reason: /not any/ },
    { name: 'backwards port range', rule: { protocol: 6, dport: { first: 9, last: 1 } }, key: ['dport'], reason: /not a port range/ },
    { name: 'EGRESS src without the host', rule: { direction: 'EGRESS', src: { address: '10.0.0.0', prefixLength: 8 } }, key: ['src'], reason: /src 10\.0\.0\.0\/8 of an EGRESS rule does not contain the host's address 192\.168\.0\.100: the rule could never match/ },
    { name: 'INGRESS dst without the host', rule: { direction: 'INGRESS', dst: { address: '192.168.0.101', prefixLength: 32 } }, key: ['dst'], reason: /dst 192\.168\.0\.101\/32 of an INGRESS rule/ },
    { name: 'ANY with neither address the host', rule: { src: { address: '10.0.0.0', prefixLength: 8 }, dst: { address: '10.0.0.0', prefixLength: 8 } }, key: ['src'], reason: /neither src 10\.0\.0\.0\/8 nor dst/ },
    { name: 'host bits in a prefix', rule: { dst: { address: '10.0.0.1', prefixLength: 8 } }, key: ['dst'], reason: /host bits/ },
    { name: 'newline in a comment', rule: { comment: 'a\n-A FORWARD -j ACCEPT' }, key: ['comment'], reason: /control characters/ },
    { name: 'CR in a comment', rule: { comment: 'a\rb' }, key: ['comment'], reason: /control characters/ },
    { name: 'comment longer than the kernel keeps', rule: { comment: 'é'.repeat(128) }, key: ['comment'], reason: /at most 255 bytes/ },
    { name: 'unknown target', rule: { target: 'LOG' as never }, key: ['target'], reason: /not ACCEPT, DROP or REJECT/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = firewallProblems(modelOf([host(1, [rule({ ...c.rule, ...at })])]));
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.deepEqual({ ...problems[0], reason: '' }, { file: 'x.yaml', line: 42, path: ['host1.gwa.demo.', 'FIREWALL', 'FIREWALL_USER', ...c.key], reason: '' });
      assert.match(problems[0].reason, c.reason);
    });
  }

  it('names FIREWALL_ADMIN for admin rules', () => {
    const problems = firewallProblems(modelOf([host(1, [], [rule({ stringMatch: { algo: 'bm', bytes: [] } })])]));
    assert.equal(problems[0].path[2], 'FIREWALL_ADMIN');
  });

  const fine: { name: string; rule: Partial<FirewallRule> }[] = [
    { name: 'ANY with only the src excluding the host (it still matches inbound)', rule: { src: { address: '10.0.0.0', prefixLength: 8 } } },
    { name: 'EGRESS to a LAN destination', rule: { direction: 'EGRESS', dst: { address: '192.168.0.0', prefixLength: 24 } } },
    { name: '1/day with burst 1', rule: { hashlimit: { name: 'L', mode: 'upto', rate: 1, per: 'day', keys: [], burst: 1 } } },
    { name: '1/hour with burst 30', rule: { hashlimit: { name: 'L', mode: 'upto', rate: 1, per: 'hour', keys: [], burst: 30 } } },
    { name: '1000000/sec', rule: { hashlimit: { name: 'L', mode: 'upto', rate: 1_000_000, per: 'second', keys: [] } } },
    { name: 'ICMP type 254', rule: { protocol: 1, icmp: { type: 254, code: 255 } } },
    { name: 'a 128-byte pattern', rule: { stringMatch: { algo: 'kmp', bytes: Array(128).fill(0) } } },
    { name: 'a 255-byte comment with quotes', rule: { comment: '"'.repeat(255) } },
  ];
  for (const c of fine) it(`accepts ${c.name}`, () => assert.deepEqual(firewallProblems(modelOf([host(1, [rule(c.rule)])])), []));

  it('renderFirewall refuses a model with problems, naming file and line', () => {
    const m = modelOf([host(1, [rule({ comment: 'a\nCOMMIT', file: 'evil.yaml', line: 7 })])]);
    assert.throws(() => renderFirewall(m), /evil\.yaml:7: .*control characters/);
  });
});

describe('renderFirewall: configuration it refuses', () => {
  it('an interface name that is not one', () => {
    assert.throws(() => renderFirewall({ ...demoModel(), lanInterface: 'lan0 -j ACCEPT' }), /not an interface name/);
  });
  it('a prefix that would make chain names too long', () => {
    assert.throws(() => renderFirewall({ ...demoModel(), prefix: 'A'.repeat(24) }), /longer than 28/);
  });
  it('a prefix with characters chains cannot carry', () => {
    assert.throws(() => renderFirewall({ ...demoModel(), prefix: 'RGW X' }), /prefix/);
  });
  it('two hosts with one markIndex', () => {
    assert.throws(() => renderFirewall(modelOf([host(1, [rule()]), { ...host(1, [rule()]), id: 'other' }])), /share markIndex 1/);
  });
  it('a host address that is not IPv4', () => {
    assert.throws(() => renderFirewall(modelOf([host(1, [rule()], [], '192.168.0.300')])), /not an IPv4 address/);
  });
});
