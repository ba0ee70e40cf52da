import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import {
  KEY_SHAPES,
  keyShape,
  pendingSet,
  renderNft,
  renderRuleset,
  targetMap,
} from '../../src/dataplane/ruleset.js';
import { addressRanges, groupIpsetName, rangeToCidrs, renderIpsetRestore, renderIpsets } from '../../src/dataplane/ipset.js';
import { parseIptablesSave, planIptables, renderIptables } from '../../src/dataplane/iptables.js';
import { buildDataplaneModel } from '../../src/compile/dataplane-model.js';
import { groupSetName, renderFirewall } from '../../src/dataplane/firewall.js';
import { compile } from '../../src/compile/compile.js';
import { formatIpv4, parseIpv4 } from '../../src/util/ipv4.js';
import { REPO_ROOT, writeTempYaml } from '../support/repo.js';
import { testbedModel } from '../support/dataplane-model.js';

const demoModel = testbedModel;

/** The body of one chain of the rendered table, rules only, trimmed. */
function chainRules(nft: string, name: string): string[] {
  const m = new RegExp(`\\n\\tchain ${name} \\{\\n([\\s\\S]*?)\\n\\t\\}`).exec(nft);
  assert.ok(m, `chain ${name} in:\n${nft}`);
  return m[1].split('\n').map((l) => l.trim());
}

describe('renderNft', () => {
  it('replaces the table atomically: add, delete, define, in one file', () => {
    const nft = renderNft(demoModel());
    const lines = nft.split('\n').filter((l) => !l.startsWith('#'));
    assert.deepEqual(lines.slice(0, 3), ['table ip realmgw', 'delete table ip realmgw', 'table ip realmgw {']);
    assert.equal(nft.match(/^table ip realmgw \{$/gm)?.length, 1);
  });

  it('nfqueue mode: DNAT by mark through mark_dnat, reject mark and unmatched refused in forward', () => {
    const nft = renderNft(demoModel());
    assert.match(nft, /\tset pool \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = \{ 100\.64\.1\.131-100\.64\.1\.133 \}\n\t\}/);
    assert.match(nft, /\tmap mark_dnat \{\n\t\ttype mark : ipv4_addr\n\t\telements = \{ 0x52470001 : 192\.168\.0\.100, 0x52470002 : 192\.168\.0\.101 \}\n\t\}/);
    assert.deepEqual(chainRules(nft, 'prerouting'), [
      'type nat hook prerouting priority dstnat; policy accept;',
      'ip daddr @pool meta mark & 0xffff0000 == 0x52470000 meta l4proto tcp ct mark set ct mark & 0xf0ffffff | 0x01000000 dnat ip to meta mark map @mark_dnat',
      'ip daddr @pool meta mark & 0xffff0000 == 0x52470000 dnat ip to meta mark map @mark_dnat',
    ]);
    assert.deepEqual(chainRules(nft, 'forward'), [
      'type filter hook forward priority filter - 10; policy accept;',
      // the handshake ACK userspace judged: consumed (tag the connection) or refused
      'ct mark & 0x0f000000 == 0x01000000 meta mark 0x5247fffe ct mark set ct mark & 0xf0ffffff | 0x0f000000',
      'ct mark & 0x0f000000 == 0x01000000 meta mark 0x5247ffff counter jump refuse',
      'ip daddr @pool meta mark 0x5247ffff counter jump refuse',
      'ip daddr @pool counter jump refuse',
    ]);
    assert.deepEqual(chainRules(nft, 'input'), ['type filter hook input priority filter - 10; policy accept;', 'ip daddr @pool counter jump refuse']);
    assert.deepEqual(chainRules(nft, 'refuse'), [
      'meta l4proto tcp reject with tcp reset',
      'meta l4proto udp reject with icmp type port-unreachable',
      'reject with icmp type host-unreachable',
    ]);
    assert.deepEqual(chainRules(nft, 'postrouting'), [
      'type nat hook postrouting priority srcnat; policy accept;',
      'ip saddr 192.168.0.0/24 oifname "wan0" snat ip to 100.64.1.130',
    ]);
    assert.doesNotMatch(nft, /pend_|chain confirm/);
  });

  it('nftset mode: a pending set and a target map per key shape, consumed in match order', () => {
    const nft = renderNft(demoModel({ confirm: 'nftset' }));
    assert.doesNotMatch(nft, /mark_dnat|meta mark/);
    const types = { exact: 'ipv4_addr . inet_proto . inet_service', anyport: 'ipv4_addr . inet_proto', anyproto: 'ipv4_addr . inet_service', any: 'ipv4_addr' };
    for (const shape of KEY_SHAPES) {
      assert.match(nft, new RegExp(`\\tset ${pendingSet(shape)} \\{\\n\\t\\ttype ${types[shape].replace(/\./g, '\\.')}\\n\\t\\tsize \\d+\\n\\t\\tflags dynamic,timeout\\n\\t\\tgc-interval 20ms\\n\\t\\}`));
      assert.match(nft, new RegExp(`\\tmap ${targetMap(shape)} \\{\\n\\t\\ttype ${types[shape].replace(/\./g, '\\.')} : ipv4_addr\\n\\t\\tflags timeout\\n\\t\\}`));
    }
    assert.deepEqual(chainRules(nft, 'prerouting'), [
      'type nat hook prerouting priority dstnat; policy accept;',
      'ct state new ip daddr @pool meta l4proto tcp ct event set assured goto confirm_tcp',
      'ct state new ip daddr @pool jump confirm',
    ]);
    const P = '{ tcp, udp, dccp, sctp, udplite }';
    // every shape: the unbound marker, the bound marker with its binding, a bound marker from elsewhere (stolen)
    assert.deepEqual(chainRules(nft, 'confirm').filter((_, i) => i % 3 === 0), [
      `meta l4proto ${P} ip daddr . meta l4proto . th dport @pend_exact delete @pend_exact { ip daddr . meta l4proto . th dport } dnat ip to ip daddr . meta l4proto . th dport map @dnat_exact`,
      'ip daddr . meta l4proto @pend_anyport delete @pend_anyport { ip daddr . meta l4proto } dnat ip to ip daddr . meta l4proto map @dnat_anyport',
      `meta l4proto ${P} ip daddr . th dport @pend_anyproto delete @pend_anyproto { ip daddr . th dport } dnat ip to ip daddr . th dport map @dnat_anyproto`,
      'ip daddr @pend_any delete @pend_any { ip daddr } dnat ip to ip daddr map @dnat_any',
    ]);
    assert.deepEqual(chainRules(nft, 'confirm').slice(1, 3), [
      `meta l4proto ${P} ip daddr . meta l4proto . th dport @pendb_exact ip saddr . ip daddr . meta l4proto . th dport @bind_exact delete @pendb_exact { ip daddr . meta l4proto . th dport } dnat ip to ip daddr . meta l4proto . th dport map @dnat_exact`,
      `meta l4proto ${P} ip daddr . meta l4proto . th dport @pendb_exact counter name stolen return`,
    ]);
    assert.deepEqual(chainRules(nft, 'forward').slice(1), [
      'meta l4proto tcp tcp flags & (syn | rst | ack) == ack ct state established ct direction original ct mark & 0x0f000000 0x01000000-0x08000000 jump handshake',
      'ip daddr @pool counter jump refuse',
    ]);
  });

  it('nftset mode: bound markers with interval bindings; TCP tagged at the SYN, consumed by the handshake', () => {
    const nft = renderNft(demoModel({ confirm: 'nftset' }));
    for (const shape of KEY_SHAPES) {
      assert.match(nft, new RegExp(`\\tset pendb_${shape} \\{\\n\\t\\ttype [^\\n]+\\n\\t\\tsize \\d+\\n\\t\\tflags dynamic,timeout\\n`));
      assert.match(nft, new RegExp(`\\tset bind_${shape} \\{\\n\\t\\ttype ipv4_addr \\. [^\\n]+\\n\\t\\tflags interval,timeout\\n\\t\\}`));
    }
    assert.match(nft, /\tcounter stolen \{\n\t\}/);
    assert.match(nft, /\tcounter handshake \{\n\t\}/);
    const tcp = chainRules(nft, 'confirm_tcp');
    assert.equal(tcp.length, 12);
    assert.ok(tcp.every((r) => !r.includes(' delete ')), 'a SYN never consumes');
    assert.equal(tcp[0], 'ip daddr . meta l4proto . th dport @pend_exact ct mark set ct mark & 0xf0ffffff | 0x01000000 dnat ip to ip daddr . meta l4proto . th dport map @dnat_exact');
    const hs = chainRules(nft, 'handshake');
    assert.equal(hs[0], 'meta l4proto tcp ct mark & 0x0f000000 == 0x01000000 ct original ip daddr . ct original protocol . ct original proto-dst @pend_exact delete @pend_exact { ct original ip daddr . ct original protocol . ct original proto-dst } ct mark set ct mark & 0xf0ffffff | 0x0f000000 return');
    assert.equal(hs.length, 9);
    assert.equal(hs[8], 'counter name handshake jump refuse');
  });

  it('unmatched: drop drops instead of rejecting (the reject mark still rejects)', () => {
    const nft = renderNft(demoModel({ unmatched: 'drop' }));
    assert.deepEqual(chainRules(nft, 'forward').slice(3), ['ip daddr @pool meta mark 0x5247ffff counter jump refuse', 'ip daddr @pool counter drop']);
    assert.equal(chainRules(renderNft(demoModel({ unmatched: 'drop', confirm: 'nftset' })), 'handshake').at(-1), 'counter name handshake drop');
    assert.deepEqual(chainRules(nft, 'input').slice(1), ['ip daddr @pool counter drop']);
  });

  it('pool elements are merged into ranges; an unaligned mark base uses a mark range', () => {
    const nft = renderNft(demoModel({ poolAddresses: ['10.0.0.5', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.9'], markBase: 0x52470100 }));
    assert.match(nft, /elements = \{ 10\.0\.0\.1-10\.0\.0\.3, 10\.0\.0\.5, 10\.0\.0\.9 \}/);
    assert.match(nft, /ip daddr @pool meta mark 0x52470101-0x524800fe dnat ip to meta mark map @mark_dnat/);
    assert.match(nft, /meta mark 0x524800ff counter jump refuse/);
  });

  it('refuses models that would render nonsense', () => {
    assert.throws(() => renderNft(demoModel({ table: 'bad table' })), /table name/);
    assert.throws(() => renderNft(demoModel({ prefix: 'R-G' })), /prefix/);
    assert.throws(() => renderNft(demoModel({ wanInterface: 'wan0"; flush ruleset' })), /interface/);
    assert.throws(() => renderNft(demoModel({ poolAddresses: [] })), /empty/);
    const h = demoModel().hosts;
    assert.throws(() => renderNft(demoModel({ hosts: [h[0], { ...h[1], markIndex: 1 }] })), /used twice/);
    assert.throws(() => renderNft(demoModel({ hosts: [{ ...h[0], markIndex: 0xffff }] })), /out of range/);
    assert.throws(() => renderNft(demoModel({ hosts: [{ ...h[0], markIndex: 0xfffe }] })), /out of range/, 'the handshake-ok mark');
  });
});

describe('reservation key shapes (nftset mode)', () => {
  it('picks the key shape from which fields are wildcards', () => {
    assert.equal(keyShape(6, 22), 'exact');
    assert.equal(keyShape(6, 0), 'anyport');
    assert.equal(keyShape(1, 0), 'anyport');
    assert.equal(keyShape(0, 53), 'anyproto');
    assert.equal(keyShape(0, 0), 'any');
  });
});

describe('ipsets', () => {
  it('nfqueue: the pool as hash:net CIDR blocks, groups as hash:ip', () => {
    const sets = renderIpsets(demoModel());
    assert.deepEqual(sets, [
      { name: 'rgw-pool', type: 'hash:net', members: ['100.64.1.131', '100.64.1.132/31'] },
      { name: 'rgw-g-G1', type: 'hash:ip', members: ['192.168.0.100', '192.168.0.101'] },
      { name: 'rgw-g-G2', type: 'hash:ip', members: ['192.168.0.101'] },
    ]);
    assert.equal(
      renderIpsetRestore(sets.slice(0, 1)),
      'create rgw-pool hash:net -exist\nflush rgw-pool\nadd rgw-pool 100.64.1.131\nadd rgw-pool 100.64.1.132/31\n',
    );
  });

  it('nftset: no pool ipset (the nft set serves)', () => {
    assert.deepEqual(renderIpsets(demoModel({ confirm: 'nftset' })).map((s) => s.name), ['rgw-g-G1', 'rgw-g-G2']);
  });

  it('group names are sanitised and shortened deterministically; collisions are refused', () => {
    const m = demoModel();
    assert.equal(groupIpsetName(m, 'IPS GROUP/1'), 'rgw-g-IPS_GROUP_1');
    const long = groupIpsetName(m, 'IPS_GROUP_WITH_A_VERY_LONG_NAME_INDEED');
    assert.equal(long.length, 31);
    assert.match(long, /^rgw-g-IPS_GROUP_WITH_A_V-[0-9a-f]{6}$/);
    assert.equal(groupIpsetName(m, 'IPS_GROUP_WITH_A_VERY_LONG_NAME_INDEED'), long);
    assert.notEqual(groupIpsetName(m, 'IPS_GROUP_WITH_A_VERY_LONG_NAME_INDEEX'), long);
    const clash = demoModel({ groups: new Map([['a/b', ['192.168.0.100']], ['a_b', ['192.168.0.101']]]) });
    assert.throws(() => renderIpsets(clash), /both map to ipset 'rgw-g-a_b'/);
  });

  it('group ipset names agree with the firewall renderer', () => {
    const m = demoModel();
    for (const g of ['IPS_GROUP_PREPAID1', 'a b/c', 'IPS_GROUP_WITH_A_VERY_LONG_NAME_INDEED', 'x'.repeat(40)]) assert.equal(groupIpsetName(m, g), groupSetName(m, g));
  });

  it('rangeToCidrs covers a range exactly with aligned blocks', () => {
    assert.deepEqual(rangeToCidrs(parseIpv4('10.0.0.0'), parseIpv4('10.0.0.255')), ['10.0.0.0/24']);
    assert.deepEqual(rangeToCidrs(parseIpv4('10.0.0.1'), parseIpv4('10.0.0.6')), ['10.0.0.1', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6']);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff - 5000 }), fc.integer({ min: 0, max: 5000 }), (first, n) => {
        const blocks = rangeToCidrs(first, first + n);
        let next = first;
        for (const b of blocks) {
          const [a, len] = b.includes('/') ? [parseIpv4(b.split('/')[0]), Number(b.split('/')[1])] : [parseIpv4(b), 32];
          const size = 2 ** (32 - len);
          assert.equal(a, next);
          assert.equal(a % size, 0, `${b} aligned`);
          next = a + size;
        }
        assert.equal(next, first + n + 1);
      }),
    );
  });

  it('addressRanges sorts, de-duplicates and merges', () => {
    assert.deepEqual(
      addressRanges(['10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.2', '10.0.1.0']).map(([a, b]) => [formatIpv4(a), formatIpv4(b)]),
      [['10.0.0.1', '10.0.0.3'], ['10.0.1.0', '10.0.1.0']],
    );
  });
});

describe('iptables', () => {
  it('nfqueue: our mangle chains queue new flows to the pool ipset, and TCP handshake ACKs of pending connections, marked', () => {
    const r = renderIptables(demoModel());
    assert.equal(
      r.mangle,
      '*mangle\n:RGW-QUEUE - [0:0]\n:RGW-HANDSHAKE - [0:0]\n-A RGW-QUEUE -j NFQUEUE --queue-num 1\n' +
        '-A RGW-HANDSHAKE -j MARK --set-xmark 0x52470000/0xffffffff\n-A RGW-HANDSHAKE -j NFQUEUE --queue-num 1\nCOMMIT\n',
    );
    assert.equal(r.filter, '');
    assert.deepEqual(r.jumps, [
      { table: 'mangle', chain: 'PREROUTING', rule: '-m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE' },
      { table: 'mangle', chain: 'PREROUTING', rule: '-p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE' },
    ]);
    assert.match(renderIptables(demoModel({ queue: { num: 7, bypass: true } })).mangle, /-A RGW-QUEUE -j NFQUEUE --queue-num 7 --queue-bypass\n/);
  });

  it('nftset: no iptables at all without a firewall', () => {
    assert.deepEqual(renderIptables(demoModel({ confirm: 'nftset' })), { mangle: '', filter: '', jumps: [], chains: [] });
  });

  const fw = { filter: ':RGW-FW - [0:0]\n:RGW-H-1 - [0:0]\n-A RGW-FW -s 192.168.0.100/32 -j RGW-H-1\n-A RGW-H-1 -j ACCEPT\n', jumps: ['-j RGW-FW'] };

  it('the firewall fragment becomes our filter chains and its jumps go to FORWARD', () => {
    const r = renderRuleset(demoModel({ confirm: 'nftset' }), { firewall: fw });
    assert.equal(r.iptables.filter, '*filter\n:RGW-FW - [0:0]\n:RGW-H-1 - [0:0]\n-A RGW-FW -s 192.168.0.100/32 -j RGW-H-1\n-A RGW-H-1 -j ACCEPT\nCOMMIT\n');
    assert.deepEqual(r.jumps, [{ table: 'filter', chain: 'FORWARD', rule: '-j RGW-FW' }]);
    assert.deepEqual(r.chains, [
      { table: 'filter', chain: 'RGW-FW' },
      { table: 'filter', chain: 'RGW-H-1' },
    ]);
  });

  it("renderFirewall's output plugs in as is", async () => {
    const demo = parse(readFileSync(path.join(REPO_ROOT, 'orchestration', 'netns', 'gwa.demo.yaml'), 'utf8'));
    demo.zones = path.join(REPO_ROOT, 'zones');
    demo.policies = path.join(REPO_ROOT, 'policies', 'gwa.demo');
    demo.dataplane = { wan: { interface: 'wan0' }, lan: { interface: 'lan0', network: '192.168.0.0/24' } };
    const model = compile(await writeTempYaml(stringify(demo))).kernel!.model;
    const fw = renderFirewall(model);
    const r = renderRuleset(model, { firewall: fw });
    assert.deepEqual(r.chains.filter((c) => c.table === 'filter').map((c) => c.chain), fw.chains);
    assert.deepEqual(r.jumps.map((j) => `${j.table} ${j.chain} ${j.rule}`), [
      'mangle PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
      'mangle PREROUTING -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
      'filter FORWARD -j RGW-FW',
    ]);
    assert.equal(r.iptables.filter, `*filter\n${fw.filter}COMMIT\n`);
  });

  it('a firewall fragment may only touch chains of ours', () => {
    const bad = (filter: string, jumps = ['-j RGW-FW']) => () => renderIptables(demoModel(), { filter, jumps });
    assert.throws(bad(':RGW-FW - [0:0]\n-A FORWARD -j DROP'), /not realmgw's/);
    assert.throws(bad(':RGW-FW - [0:0]\n-A RGW-OTHER -j DROP'), /undeclared/);
    assert.throws(bad(':RGW-QUEUE - [0:0]', ['-j RGW-QUEUE']), /reserved/);
    assert.throws(bad(':RGW-FW - [0:0]\n*filter'), /only/);
    assert.throws(bad(':RGW-FW - [0:0]', ['-j DROP']), /must go to a chain declared/);
    assert.throws(bad(':RGW-FW - [0:0]', ['-A FORWARD -j RGW-FW']), /without '-A CHAIN'/);
  });

  const SAVE = `# Generated by iptables-save v1.8.9 (nf_tables)
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:RGW-QUEUE - [0:0]
:RGW-OLD - [0:0]
:OTHER - [0:0]
-A PREROUTING -s 10.9.9.8/32 -j MARK --set-xmark 0x7/0xffffffff
-A PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE
-A PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE
-A PREROUTING -j RGW-OLD
-A RGW-QUEUE -j NFQUEUE --queue-num 3
-A RGW-OLD -j RGW-QUEUE
-A OTHER -j ACCEPT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
-A FORWARD -s 10.9.9.9/32 -m comment --comment "foreign rule" -j DROP
COMMIT
`;

  it('plan after a crash: duplicated jumps go back to the top once, stale jumps deleted, stale chains removed, foreign rules untouched', () => {
    const saved = parseIptablesSave(SAVE);
    const want = renderIptables(demoModel());
    const plan = planIptables(saved, 'RGW', want);
    assert.equal(
      plan.restore,
      [
        '*mangle',
        ':RGW-QUEUE - [0:0]',
        ':RGW-HANDSHAKE - [0:0]',
        // `-D` removes the first copy: deleting all and inserting one keeps the jump above foreign rules
        '-D PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        '-D PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        '-D PREROUTING -j RGW-OLD',
        '-F RGW-OLD',
        '-X RGW-OLD',
        '-A RGW-QUEUE -j NFQUEUE --queue-num 1',
        '-A RGW-HANDSHAKE -j MARK --set-xmark 0x52470000/0xffffffff',
        '-A RGW-HANDSHAKE -j NFQUEUE --queue-num 1',
        // the handshake jump was missing (an older realmgw): inserted once
        '-I PREROUTING 1 -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
        '-I PREROUTING 1 -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('plan on a clean kernel inserts each jump once; cleanup plan removes only ours', () => {
    const clean = parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n');
    const plan = planIptables(clean, 'RGW', renderIptables(demoModel()));
    const lines = plan.restore.split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('-I ')).sort(), [
      '-I PREROUTING 1 -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
      '-I PREROUTING 1 -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
    ]);
    assert.deepEqual(lines.filter((l) => l.startsWith(':')), [':RGW-QUEUE - [0:0]', ':RGW-HANDSHAKE - [0:0]']);
    const cleanup = planIptables(parseIptablesSave(SAVE), 'RGW');
    assert.equal(
      cleanup.restore,
      [
        '*mangle',
        '-D PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        '-D PREROUTING -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE',
        '-D PREROUTING -j RGW-OLD',
        '-F RGW-QUEUE',
        '-F RGW-OLD',
        '-X RGW-QUEUE',
        '-X RGW-OLD',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.equal(planIptables(clean, 'RGW').restore, '', 'nothing of ours: nothing to do');
  });

  it('several jumps keep their order at the top of the chain', () => {
    const r = renderIptables(demoModel({ confirm: 'nftset' }), { filter: ':RGW-A - [0:0]\n:RGW-B - [0:0]', jumps: ['-i lan0 -j RGW-A', '-j RGW-B'] });
    const plan = planIptables([], 'RGW', r);
    assert.deepEqual(plan.inserts, ['iptables -t filter -I FORWARD 1 -j RGW-B', 'iptables -t filter -I FORWARD 1 -i lan0 -j RGW-A']);
  });
});

describe('buildDataplaneModel', () => {
  it('from the demo config: mark indexes by sorted host id, groups from GROUP lists, interfaces from dataplane', async () => {
    const demo = parse(readFileSync(path.join(REPO_ROOT, 'orchestration', 'netns', 'gwa.demo.yaml'), 'utf8'));
    demo.zones = path.join(REPO_ROOT, 'zones');
    demo.policies = path.join(REPO_ROOT, 'policies', 'gwa.demo');
    demo.dataplane = { confirm: 'nftset', wan: { interface: 'wan0' }, lan: { interface: 'lan0', network: '192.168.0.1/24' } };
    const model = compile(await writeTempYaml(stringify(demo))).kernel!.model;
    assert.equal(model.table, 'realmgw');
    assert.equal(model.prefix, 'RGW');
    assert.equal(model.confirm, 'nftset');
    assert.deepEqual(model.queue, { num: 1, bypass: false });
    assert.equal(model.lanNetwork, '192.168.0.0/24');
    assert.deepEqual(model.poolAddresses, ['100.64.1.131', '100.64.1.132', '100.64.1.133']);
    assert.deepEqual(model.hosts.map((h) => [h.id, h.ipv4, h.markIndex]), [
      ['hosta.gwa.demo', '192.168.0.100', 1],
      ['hostb.gwa.demo', '192.168.0.101', 2],
    ]);
    assert.deepEqual([...model.groups], [
      ['IPS_GROUP_PARENTAL', ['192.168.0.101']],
      ['IPS_GROUP_POSTPAID', ['192.168.0.101']],
      ['IPS_GROUP_PREPAID1', ['192.168.0.100']],
    ]);
    assert.ok(model.hosts[0].firewall.user.length > 0);
    delete demo.dataplane;
    delete demo.forwards; // they live in the data plane's table
    const noDataplane = compile(await writeTempYaml(stringify(demo)));
    assert.equal(noDataplane.kernel, undefined);
    assert.throws(() => buildDataplaneModel(noDataplane), /no 'dataplane' section/);
  });
});
