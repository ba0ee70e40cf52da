import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPolicyFolder, parsePolicyText, type SubscriberHost } from '../../src/policy/index.js';

import { fixture, problemsOf } from '../support/fixtures.js';
import { REPO_ROOT } from '../support/repo.js';

const GOOD = `hostx.gwa.demo.:
    ID:
        fqdn:   ['hostx.gwa.demo.', 'alias.gwa.demo']
        ipv4:   ['192.168.0.50', '192.168.0.51']
        msisdn: ['0000000050']
    GROUP: [IPS_GROUP_PREPAID1, IPS_GROUP_X]
    CIRCULARPOOL:
        - {max: 3}
    CARRIERGRADE:
        - {ipv4: 192.168.0.60}
    SFQDN:
        - {fqdn: 'HostX.gwa.demo.'}
        - {fqdn: 'ssh.hostx.gwa.demo.', protocol: 6, port: 22, loose_packet: 2, lifetime: 1.5}
        - {fqdn: 'nest.hostx.gwa.demo', carriergrade: true, proxy_required: false}
    FIREWALL:
        FIREWALL_ADMIN:
            - {'priority': 0, 'direction': 'EGRESS', 'protocol': '17', 'udp': {'dport': '53'}, 'target': 'REJECT', 'hashlimit': {'hashlimit-above': '5/sec', 'hashlimit-burst': '50', 'hashlimit-name': 'DnsLanHosts', 'hashlimit-mode': 'srcip', 'hashlimit-htable-expire': '1001'}, 'comment': {'comment': 'Host DNS limit'}}
        FIREWALL_USER:
            - {priority: 100, direction: ANY, target: ACCEPT}
            - {priority: 10, direction: INGRESS, src: 100.64.0.0/16, protocol: '1', icmp: {icmp-type: '8/0'}, target: ACCEPT, comment: 'ping'}
            - {priority: 50, direction: EGRESS, dst: 8.8.8.8, protocol: tcp, tcp: {sport: 1024:65535, dport: 443}, target: DROP}
            - {priority: 10, direction: EGRESS, protocol: '17', udp: {dport: '53'}, string: {algo: bm, hex-string: '|04|nsfw'}, target: REJECT}
`;

describe('parsePolicyText: good input', () => {
  it('loads a host to the exact model', () => {
    const r = parsePolicyText(GOOD, 'p.yaml');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.keys, ['hostx.gwa.demo.']);
    const svc = { proxyRequired: false, carriergrade: false, loosePacket: 0, hostId: 'hostx.gwa.demo' };
    const expected: SubscriberHost = {
      id: 'hostx.gwa.demo',
      fqdns: ['hostx.gwa.demo', 'alias.gwa.demo'],
      ipv4: '192.168.0.50',
      ipv4s: ['192.168.0.50', '192.168.0.51'],
      msisdn: ['0000000050'],
      groups: ['IPS_GROUP_PREPAID1', 'IPS_GROUP_X'],
      circularPoolMax: 3,
      carrierGrade: [{ ipv4: '192.168.0.60' }],
      services: [
        { ...svc, fqdn: 'hostx.gwa.demo', protocol: 0, port: 0 },
        { ...svc, fqdn: 'ssh.hostx.gwa.demo', protocol: 6, port: 22, loosePacket: 2, lifetimeMs: 1500 },
        { ...svc, fqdn: 'nest.hostx.gwa.demo', protocol: 0, port: 0, carriergrade: true },
      ],
      firewall: {
        admin: [{
          priority: 0, direction: 'EGRESS', target: 'REJECT', protocol: 17, dport: { first: 53, last: 53 },
          hashlimit: { name: 'DnsLanHosts', mode: 'above', rate: 5, per: 'second', burst: 50, keys: ['srcip'], expireMs: 1001 },
          comment: 'Host DNS limit', file: 'p.yaml', line: 17,
        }],
        user: [
          { priority: 10, direction: 'INGRESS', target: 'ACCEPT', protocol: 1, src: { address: '100.64.0.0', prefixLength: 16 }, icmp: { type: 8, code: 0 }, comment: 'ping', file: 'p.yaml', line: 20 },
          { priority: 10, direction: 'EGRESS', target: 'REJECT', protocol: 17, dport: { first: 53, last: 53 }, stringMatch: { algo: 'bm', bytes: [4, 110, 115, 102, 119] }, file: 'p.yaml', line: 22 },
          { priority: 50, direction: 'EGRESS', target: 'DROP', protocol: 6, dst: { address: '8.8.8.8', prefixLength: 32 }, sport: { first: 1024, last: 65535 }, dport: { first: 443, last: 443 }, file: 'p.yaml', line: 21 },
          { priority: 100, direction: 'ANY', target: 'ACCEPT', file: 'p.yaml', line: 19 },
        ],
      },
      file: 'p.yaml',
    };
    assert.deepEqual(r.hosts, [expected]);
  });

  it('accepts CIRCULARPOOL as a mapping and as a one-item list', () => {
    for (const pool of ['{max: 3}', '[{max: 3}]', '\n        - max: 3']) {
      const r = parsePolicyText(`h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n    CIRCULARPOOL: ${pool}\n`, 'p.yaml');
      assert.deepEqual(r.problems, [], pool);
      assert.equal(r.hosts[0].circularPoolMax, 3, pool);
    }
  });

  it('defaults: ID.fqdn is the key, no pool cap, no services, no rules; an empty file has no hosts', () => {
    const r = parsePolicyText("h.gwa.demo:\n    ID: {ipv4: ['192.168.0.1']}\n", 'p.yaml');
    assert.deepEqual(r.hosts, [{
      id: 'h.gwa.demo', fqdns: ['h.gwa.demo'], ipv4: '192.168.0.1', ipv4s: ['192.168.0.1'], msisdn: [], groups: [],
      carrierGrade: [], services: [], firewall: { admin: [], user: [] }, file: 'p.yaml',
    }]);
    assert.deepEqual(parsePolicyText('# nothing yet\n', 'p.yaml'), { hosts: [], keys: [], problems: [], warnings: [] });
  });

  it('follows YAML anchors and aliases', () => {
    const r = parsePolicyText("a.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n    GROUP: &g [G1]\nb.gwa.demo.:\n    ID: {ipv4: ['192.168.0.2']}\n    GROUP: *g\n", 'p.yaml');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.hosts.map((h) => h.groups), [['G1'], ['G1']]);
  });
});

const H = "h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n";
const rule = (r: string) => `${H}    FIREWALL:\n        FIREWALL_USER:\n            - ${r}\n`;
const sfqdn = (s: string) => `${H}    SFQDN:\n        - ${s}\n`;
const K = 'h.gwa.demo.';
const RULE: (string | number)[] = [K, 'FIREWALL', 'FIREWALL_USER', 0];
const SVC: (string | number)[] = [K, 'SFQDN', 0];
const LOOSE = (was: string) =>
  `must be 0 (single use), a number of further flows from the first flow's source 1..65535, or -1 (flows from that source until the reservation's lifetime ends), not ${was}`;

describe('parsePolicyText: loose_packet', () => {
  for (const [written, value] of [['', 0], [', loose_packet: 0', 0], [', loose_packet: 1', 1], [', loose_packet: 3', 3], [', loose_packet: 65535', 65535], [', loose_packet: -1', -1]] as const) {
    it(`${written || 'absent'} -> ${value}`, () => {
      const r = parsePolicyText(sfqdn(`{fqdn: 's.h.gwa.demo', protocol: 17, port: 1234${written}}`), 'p.yaml');
      assert.deepEqual(r.problems, []);
      assert.equal(r.hosts[0].services[0].loosePacket, value);
    });
  }
});

describe("parsePolicyText: keys Realm Gateway read and ignored", () => {
  it('accepts autobind and timeout in an SFQDN entry with one warning each, and keeps them out of the model', () => {
    const r = parsePolicyText(sfqdn("{fqdn: 's.h.gwa.demo', protocol: 17, port: 1235, loose_packet: -1, autobind: false, timeout: 3600}"), 'p.yaml');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.hosts[0].services, [{ fqdn: 's.h.gwa.demo', protocol: 17, port: 1235, proxyRequired: false, carriergrade: false, loosePacket: -1, hostId: 'h.gwa.demo' }]);
    assert.deepEqual(r.warnings.map((w) => [w.file, w.line, w.path]), [
      ['p.yaml', 4, [...SVC, 'autobind']],
      ['p.yaml', 4, [...SVC, 'timeout']],
    ]);
    assert.match(r.warnings[0].reason, /^ignored, as Realm Gateway ignored it .*further flows are admitted only from the source of the first one/);
    assert.match(r.warnings[1].reason, /^ignored, as Realm Gateway ignored it .*pool\.lifetimeMs, or for 'lifetime' \(seconds\)/);
  });

  it('warns even when another key of the entry is an error, and still refuses the entry', () => {
    const r = parsePolicyText(sfqdn("{fqdn: 's.h.gwa.demo', timeout: 3600, protcol: 6}"), 'p.yaml');
    assert.deepEqual(r.hosts, []);
    assert.deepEqual(r.problems.map((p) => p.path), [[...SVC, 'protcol']]);
    assert.deepEqual(r.warnings.map((w) => w.path), [[...SVC, 'timeout']]);
  });

  it('timeout beside lifetime: lifetime is used', () => {
    const r = parsePolicyText(sfqdn("{fqdn: 's.h.gwa.demo', timeout: 3600, lifetime: 4}"), 'p.yaml');
    assert.deepEqual(r.problems, []);
    assert.equal(r.hosts[0].services[0].lifetimeMs, 4000);
    assert.equal(r.warnings.length, 1);
  });
});

describe('parsePolicyText: every error is reported with key path, line and reason', () => {
  const cases: { name: string; text: string; path: (string | number)[]; line: number; reason: string | RegExp }[] = [
    { name: 'misspelt SFQDN key', text: sfqdn("{fqdn: 's.h.gwa.demo', protcol: 6}"), path: [...SVC, 'protcol'], line: 4, reason: "unknown key 'protcol' (did you mean 'protocol'?)" },
    { name: 'misspelt section', text: `${H}    SFQND: []\n`, path: [K, 'SFQND'], line: 3, reason: "unknown key 'SFQND' (did you mean 'SFQDN'?)" },
    { name: 'upper-case ID keys (a RealmGateway file variant its loader could not read)', text: "h.gwa.demo.:\n    ID: {IPV4: ['192.168.0.1'], ipv4: ['192.168.0.1']}\n", path: [K, 'ID', 'IPV4'], line: 2, reason: "unknown key 'IPV4' (did you mean 'ipv4'?)" },
    { name: 'unknown key far from any', text: sfqdn("{fqdn: 's.h.gwa.demo', colour: red}"), path: [...SVC, 'colour'], line: 4, reason: "unknown key 'colour'" },
    { name: 'retired RealmGateway key', text: sfqdn("{fqdn: 's.h.gwa.demo', alias: true}"), path: [...SVC, 'alias'], line: 4, reason: /'alias' is internal to RealmGateway/ },
    { name: 'misspelt ignored key (autobind)', text: sfqdn("{fqdn: 's.h.gwa.demo', autobnid: false}"), path: [...SVC, 'autobnid'], line: 4, reason: "unknown key 'autobnid' (did you mean 'autobind'?)" },
    { name: 'misspelt ignored key (timeout)', text: sfqdn("{fqdn: 's.h.gwa.demo', timout: 3600}"), path: [...SVC, 'timout'], line: 4, reason: "unknown key 'timout' (did you mean 'timeout'?)" },
    { name: 'misspelt loose_packet', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packets: 3}"), path: [...SVC, 'loose_packets'], line: 4, reason: "unknown key 'loose_packets' (did you mean 'loose_packet'?)" },
    { name: 'ignored key in the wrong place', text: `${H}    timeout: 3600\n`, path: [K, 'timeout'], line: 3, reason: "unknown key 'timeout'" },
    { name: 'port out of range', text: sfqdn("{fqdn: 's.h.gwa.demo', protocol: 6, port: 70000}"), path: [...SVC, 'port'], line: 4, reason: 'must be an integer 0..65535, not 70000' },
    { name: 'port as a string', text: sfqdn("{fqdn: 's.h.gwa.demo', port: '22'}"), path: [...SVC, 'port'], line: 4, reason: 'must be an integer 0..65535, not the string "22"' },
    { name: 'protocol outside the known set', text: sfqdn("{fqdn: 's.h.gwa.demo', protocol: 50}"), path: [...SVC, 'protocol'], line: 4, reason: /protocol 50 is not one of 0 \(any\), 1 \(icmp\), 6 \(tcp\), 17 \(udp\), 132 \(sctp\)/ },
    { name: 'boolean written as a string', text: sfqdn("{fqdn: 's.h.gwa.demo', proxy_required: 'yes'}"), path: [...SVC, 'proxy_required'], line: 4, reason: 'must be true or false, not the string "yes"' },
    { name: 'loose_packet below -1', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: -2}"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('-2') },
    { name: 'loose_packet not an integer', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: 1.5}"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('1.5') },
    { name: 'loose_packet a word', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: x}"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('the string "x"') },
    { name: 'loose_packet a quoted number', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: '3'}"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('the string "3"') },
    { name: 'loose_packet a boolean', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: true}"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('true') },
    { name: 'loose_packet too large', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: 65536}"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('65536') },
    { name: 'loose_packet empty', text: sfqdn("{fqdn: 's.h.gwa.demo', loose_packet: }"), path: [...SVC, 'loose_packet'], line: 4, reason: LOOSE('empty') },
    { name: 'lifetime not positive', text: sfqdn("{fqdn: 's.h.gwa.demo', lifetime: 0}"), path: [...SVC, 'lifetime'], line: 4, reason: /seconds above 0/ },
    { name: 'SFQDN without fqdn', text: sfqdn('{port: 22}'), path: SVC, line: 4, reason: "missing required key 'fqdn'" },
    { name: 'bad fqdn', text: sfqdn("{fqdn: 's..h.gwa.demo'}"), path: [...SVC, 'fqdn'], line: 4, reason: /empty label/ },
    { name: 'fqdn label too long', text: sfqdn(`{fqdn: '${'s'.repeat(64)}.gwa.demo'}`), path: [...SVC, 'fqdn'], line: 4, reason: /at most 63/ },
    { name: 'wildcard fqdn', text: sfqdn("{fqdn: '*.h.gwa.demo'}"), path: [...SVC, 'fqdn'], line: 4, reason: /wildcard/ },
    { name: 'same SFQDN twice in a host', text: `${H}    SFQDN:\n        - {fqdn: a.gwa.demo}\n        - {fqdn: A.gwa.demo.}\n`, path: [K, 'SFQDN', 1, 'fqdn'], line: 5, reason: 'a.gwa.demo is already listed at SFQDN[0]' },
    { name: 'bad ipv4', text: "h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.256']}\n", path: [K, 'ID', 'ipv4', 0], line: 2, reason: '"192.168.0.256" is not an IPv4 address' },
    { name: 'ipv4 not a list', text: "h.gwa.demo.:\n    ID: {ipv4: '192.168.0.1'}\n", path: [K, 'ID', 'ipv4'], line: 2, reason: /must be a list/ },
    { name: 'missing ID', text: 'h.gwa.demo.:\n    GROUP: [G]\n', path: [K], line: 1, reason: "missing required key 'ID'" },
    { name: 'missing ID.ipv4', text: "h.gwa.demo.:\n    ID:\n        fqdn: ['h.gwa.demo.']\n", path: [K, 'ID'], line: 3, reason: "missing required key 'ipv4'" },
    { name: 'first ID fqdn is not the key', text: "h.gwa.demo.:\n    ID: {fqdn: ['x.gwa.demo.'], ipv4: ['192.168.0.1']}\n", path: [K, 'ID', 'fqdn', 0], line: 2, reason: /must be the host key h.gwa.demo/ },
    { name: 'msisdn as a number', text: "h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1'], msisdn: [358401]}\n", path: [K, 'ID', 'msisdn', 0], line: 2, reason: 'must be a string, not 358401' },
    { name: 'empty host entry', text: 'h.gwa.demo.:\n', path: [K], line: 1, reason: /the host entry is empty/ },
    { name: 'bad host key', text: "h..gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n", path: ['h..gwa.demo.'], line: 1, reason: /host key: empty label/ },
    { name: 'host twice in one file', text: `${H}H.gwa.demo:\n    ID: {ipv4: ['192.168.0.2']}\n`, path: ['H.gwa.demo'], line: 3, reason: 'host h.gwa.demo is already defined in this file at line 1' },
    { name: 'max zero', text: `${H}    CIRCULARPOOL: {max: 0}\n`, path: [K, 'CIRCULARPOOL', 'max'], line: 3, reason: 'must be an integer 1..1000000, not 0' },
    { name: 'max in the list form', text: `${H}    CIRCULARPOOL: [{max: 'three'}]\n`, path: [K, 'CIRCULARPOOL', 0, 'max'], line: 3, reason: /not the string "three"/ },
    { name: 'CIRCULARPOOL list of two', text: `${H}    CIRCULARPOOL: [{max: 1}, {max: 2}]\n`, path: [K, 'CIRCULARPOOL'], line: 3, reason: /a list of exactly one/ },
    { name: 'bad GROUP name', text: `${H}    GROUP: ['has space']\n`, path: [K, 'GROUP', 0], line: 3, reason: /is not an ipset name/ },
    { name: 'duplicate GROUP', text: `${H}    GROUP: [G, G]\n`, path: [K, 'GROUP', 1], line: 3, reason: 'duplicate of item [0]' },
    { name: 'CARRIERGRADE item', text: `${H}    CARRIERGRADE: [{ip: 192.168.0.9}]\n`, path: [K, 'CARRIERGRADE', 0, 'ip'], line: 3, reason: "unknown key 'ip' (did you mean 'ipv4'?)" },
    { name: 'unknown FIREWALL chain', text: `${H}    FIREWALL: {FIREWALL_USERS: []}\n`, path: [K, 'FIREWALL', 'FIREWALL_USERS'], line: 3, reason: "unknown key 'FIREWALL_USERS' (did you mean 'FIREWALL_USER'?)" },
    { name: 'rule: misspelt match key', text: rule("{priority: 1, direction: INGRESS, protocol: '6', tcp: {dprot: '22'}, target: DROP}"), path: [...RULE, 'tcp', 'dprot'], line: 5, reason: "unknown key 'dprot' (did you mean 'dport'?)" },
    { name: 'rule: unknown top key', text: rule("{priority: 1, direction: INGRESS, target: DROP, in-interface: lan0}"), path: [...RULE, 'in-interface'], line: 5, reason: "unknown key 'in-interface'" },
    { name: 'rule: missing priority', text: rule('{direction: INGRESS, target: DROP}'), path: RULE, line: 5, reason: "missing required key 'priority'" },
    { name: 'rule: direction case', text: rule('{priority: 1, direction: egress, target: DROP}'), path: [...RULE, 'direction'], line: 5, reason: '"egress" is not one of EGRESS, INGRESS, ANY (did you mean \'EGRESS\'?)' },
    { name: 'rule: unknown target', text: rule('{priority: 1, direction: ANY, target: ALLOW}'), path: [...RULE, 'target'], line: 5, reason: /"ALLOW" is not one of ACCEPT, DROP, REJECT/ },
    { name: 'rule: port match of another protocol', text: rule("{priority: 1, direction: ANY, protocol: '17', tcp: {dport: 22}, target: DROP}"), path: [...RULE, 'tcp'], line: 5, reason: "the 'tcp' match needs protocol 6" },
    { name: 'rule: port match without protocol', text: rule('{priority: 1, direction: ANY, udp: {dport: 53}, target: DROP}'), path: [...RULE, 'udp'], line: 5, reason: /needs protocol 17; add protocol: '17'/ },
    { name: 'rule: icmp without protocol 1', text: rule("{priority: 1, direction: ANY, icmp: {icmp-type: '8'}, target: DROP}"), path: [...RULE, 'icmp'], line: 5, reason: "the 'icmp' match needs protocol 1" },
    { name: 'rule: bad port range', text: rule("{priority: 1, direction: ANY, protocol: '6', tcp: {dport: '90:80'}, target: DROP}"), path: [...RULE, 'tcp', 'dport'], line: 5, reason: /port 0..65535 or a range/ },
    { name: 'rule: prefix with host bits', text: rule('{priority: 1, direction: ANY, src: 10.1.2.3/8, target: DROP}'), path: [...RULE, 'src'], line: 5, reason: '10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?' },
    { name: 'rule: negated address', text: rule("{priority: 1, direction: ANY, dst: '!10.0.0.0/8', target: DROP}"), path: [...RULE, 'dst'], line: 5, reason: /not an IPv4 address or address\/prefix/ },
    { name: 'rule: hashlimit without name', text: rule("{priority: 1, direction: ANY, target: DROP, hashlimit: {hashlimit-above: '5/sec'}}"), path: [...RULE, 'hashlimit'], line: 5, reason: "missing required key 'hashlimit-name'" },
    { name: 'rule: hashlimit bad rate', text: rule("{priority: 1, direction: ANY, target: DROP, hashlimit: {hashlimit-upto: '5/fortnight', hashlimit-name: x}}"), path: [...RULE, 'hashlimit', 'hashlimit-upto'], line: 5, reason: /not a packet rate/ },
    { name: 'rule: hashlimit mode', text: rule("{priority: 1, direction: ANY, target: DROP, hashlimit: {hashlimit-above: '1/s', hashlimit-name: x, hashlimit-mode: 'scrip'}}"), path: [...RULE, 'hashlimit', 'hashlimit-mode'], line: 5, reason: /"scrip" is not one of srcip.*did you mean 'srcip'/ },
    { name: 'rule: bad hex-string', text: rule("{priority: 1, direction: ANY, target: DROP, string: {algo: bm, hex-string: '|0|x'}}"), path: [...RULE, 'string', 'hex-string'], line: 5, reason: /not a hex-string/ },
    { name: 'rule: comment too long', text: rule(`{priority: 1, direction: ANY, target: DROP, comment: '${'c'.repeat(129)}'}`), path: [...RULE, 'comment'], line: 5, reason: /at most 128 bytes/ },
    { name: 'YAML duplicate key', text: "h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n    ID: {ipv4: ['192.168.0.2']}\n", path: [], line: 3, reason: /YAML: Map keys must be unique/ },
    { name: 'YAML syntax', text: "h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']\n", path: [], line: 3, reason: /^YAML: / },
    { name: 'top level not a mapping', text: '- a\n- b\n', path: [], line: 1, reason: /must be a mapping of host FQDN to host entry/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parsePolicyText(c.text, 'p.yaml');
      assert.deepEqual(r.hosts.map((h) => h.id).filter((id) => c.path[0] !== undefined && id === c.path[0]), []);
      assert.equal(r.problems.length, 1, JSON.stringify(r.problems, null, 1));
      const [p] = r.problems;
      assert.equal(p.file, 'p.yaml');
      assert.deepEqual(p.path, c.path);
      assert.equal(p.line, c.line);
      if (typeof c.reason === 'string') assert.equal(p.reason, c.reason);
      else assert.match(p.reason, c.reason);
    });
  }

  it('reports several problems in one file, each at its own line', () => {
    const text = `a.gwa.demo.:
    ID: {ipv4: ['192.168.0.300']}
    SFQDN:
        - {fqdn: a.gwa.demo, protcol: 6}
        - {fqdn: b.gwa.demo, port: -1}
b.gwa.demo.:
    ID: {ipv4: ['192.168.0.2']}
    CIRCULARPOOL: {max: 0}
    FIREWALL:
        FIREWALL_ADMIN:
            - {priority: 1, direction: IN, target: DROP}
`;
    const r = parsePolicyText(text, 'p.yaml');
    assert.deepEqual(r.hosts, []);
    assert.deepEqual(r.problems.map((p) => [p.line, p.path.join('/')]), [
      [2, 'a.gwa.demo./ID/ipv4/0'],
      [4, 'a.gwa.demo./SFQDN/0/protcol'],
      [5, 'a.gwa.demo./SFQDN/1/port'],
      [8, 'b.gwa.demo./CIRCULARPOOL/max'],
      [11, 'b.gwa.demo./FIREWALL/FIREWALL_ADMIN/0/direction'],
    ]);
  });
});

describe('loadPolicyFolder', () => {
  it('loads the shipped demo policies', () => {
    const p = loadPolicyFolder(join(REPO_ROOT, 'policies', 'gwa.demo'));
    assert.deepEqual([...p.hosts.keys()], ['hosta.gwa.demo', 'hostb.gwa.demo']);
    assert.deepEqual(p.merges, []);
    for (const [id, ipv4] of [['hosta.gwa.demo', '192.168.0.100'], ['hostb.gwa.demo', '192.168.0.101']]) {
      const h = p.hosts.get(id)!;
      assert.equal(h.ipv4, ipv4);
      assert.equal(h.circularPoolMax, 3);
      assert.ok(h.groups.length > 0);
      assert.ok(h.firewall.admin.length > 0 && h.firewall.user.length > 0);
      assert.deepEqual(h.services.map((s) => [s.fqdn, s.protocol, s.port]), [
        [id, 0, 0], [`tcp.${id}`, 6, 0], [`udp.${id}`, 17, 0], [`icmp.${id}`, 1, 0], [`ssh.${id}`, 6, 22], [`www.${id}`, 6, 80], [`web.${id}`, 6, 80],
      ]);
      assert.deepEqual(h.services.filter((s) => s.proxyRequired).map((s) => s.fqdn), [`www.${id}`]);
    }
    assert.equal(p.services.size, 14);
    assert.equal(p.services.get('ssh.hostb.gwa.demo')?.hostId, 'hostb.gwa.demo');
  });

  it('merges files in name order at host granularity and records every override', () => {
    const dir = fixture('policies-merge');
    const p = loadPolicyFolder(dir);
    assert.deepEqual([...p.hosts.keys()], ['hosta.gwa.demo', 'hostb.gwa.demo', 'hostc.gwa.demo']);
    assert.deepEqual(p.merges, [
      { host: 'hostb.gwa.demo', key: 'HOSTB.gwa.demo', file: join(dir, '20-override.yaml'), overrides: join(dir, '10-base.yaml') },
      { host: 'hostb.gwa.demo', key: 'hostb.gwa.demo.', file: join(dir, '30-more.yml'), overrides: join(dir, '20-override.yaml') },
    ]);
    const b = p.hosts.get('hostb.gwa.demo')!;
    assert.equal(b.file, join(dir, '30-more.yml'));
    assert.equal(b.ipv4, '192.168.0.121');
    assert.equal(b.circularPoolMax, undefined, 'the whole entry is replaced, not merged key by key');
    assert.deepEqual(b.services, []);
    assert.deepEqual([...p.services.keys()], ['hosta.gwa.demo']);
  });

  it('rejects the misspelt copy of the demo with the exact problem', () => {
    const dir = fixture('policies-typo');
    assert.deepEqual(problemsOf(() => loadPolicyFolder(dir)), [{
      file: join(dir, 'hosta.yaml'),
      path: ['hosta.gwa.demo.', 'SFQDN', 4, 'protcol'],
      line: 19,
      reason: "unknown key 'protcol' (did you mean 'protocol'?)",
    }]);
  });

  it('reports a missing folder', () => {
    assert.match(problemsOf(() => loadPolicyFolder(fixture('no-such-folder')))[0].reason, /cannot read the policy folder/);
  });
});
