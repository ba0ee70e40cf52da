// Realm Gateway's circularpool.policy.yaml read as it is: the demo-equivalent fixture yields its groups, tiers
// and proofs; each kind of mistake yields file:line: key.path: reason, all problems at once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatProblem } from '../../src/errors.js';
import { DEMO_TIERS, RGW_DEFAULT_TIERS } from '../../src/pbra/model.js';
import { parseRgwPolicy, proofsOfFlags } from '../../src/pbra/rgw-policy.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { fixture } from '../support/fixtures.js';

const F = 'circularpool.policy.yaml';
const host = (a: string) => ({ network: parseIpv4(a), prefixLength: 32 });

/** One problem per line, formatted as the CLI prints them. */
function problems(text: string): string[] {
  const r = parseRgwPolicy(text, F);
  assert.equal(r.policy, undefined, 'no policy when there are problems');
  return r.problems.map(formatProblem);
}

/** A file with the demo's shape where `rows` replaces the SYSTEM_LOAD rows (8 spaces of indent each). */
function withRows(...rows: string[]): string {
  return `CIRCULARPOOL:
    max: 1000
    DNS_GROUP_POLICY: []
    CONTROL_VARIABLES:
        SYSTEM_LOAD:
${rows.map((r) => `            - ${r}`).join('\n')}
`;
}
const row = (min: number, max: number, math = 'max') => `{'threshold_min': ${min}, 'threshold_max': ${max}, 'fqdn_new': 0.5, 'sfqdn_new': 0.4, 'sfqdn_reuse': 0.3, 'math': '${math}'}`;

describe('parseRgwPolicy: the demo file', () => {
  it('yields its groups, tiers, proofs and flags', () => {
    const file = join(fixture('pbra-rgw-demo'), F);
    const r = parseRgwPolicy(readFileSync(file, 'utf8'), file);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.policy, {
      groups: [
        { name: 'DNS_GROUP_POLICY[0]', nodes: [host('198.51.100.53')], sla: true, initialReputation: 1 },
        { name: 'DNS_GROUP_POLICY[1]', nodes: [host('198.51.100.54')], sla: true, initialReputation: 0 },
        { name: 'DNS_GROUP_POLICY[2]', nodes: ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'].map(host), sla: false, initialReputation: 1 },
      ],
      tiers: DEMO_TIERS,
      // TCP + CNAME: a UDP query is truncated, the TCP retry gets an alias, the follow-up may use UDP.
      proofs: { udp: ['tcp'], tcp: ['cname'], followUpOverUdp: true },
      logUntrusted: false,
      circularPoolMax: 1000 / 2,
    });
  });

  it('maps every combination of the three policy flags', () => {
    const cases: [boolean, boolean, boolean, ReturnType<typeof proofsOfFlags>][] = [
      [false, false, false, { udp: [], tcp: [], followUpOverUdp: true }],
      [false, true, false, { udp: ['tcp'], tcp: [], followUpOverUdp: true }],
      [false, false, true, { udp: ['cname'], tcp: ['cname'], followUpOverUdp: true }],
      [false, true, true, { udp: ['tcp'], tcp: ['cname'], followUpOverUdp: true }],
      [true, false, false, { udp: ['tcp'], tcp: [], followUpOverUdp: false }],
      [true, false, true, { udp: ['tcp'], tcp: ['cname'], followUpOverUdp: false }],
      [true, true, true, { udp: ['tcp'], tcp: ['cname'], followUpOverUdp: false }],
    ];
    for (const [tcpCname, tcp, cname, want] of cases) assert.deepEqual(proofsOfFlags(tcpCname, tcp, cname), want, `${tcpCname} ${tcp} ${cname}`);
  });

  it("takes Realm Gateway's defaults for what a file leaves out (its nest files have no SYSTEM_LOAD)", () => {
    const r = parseRgwPolicy(`CIRCULARPOOL:\n    max: 1000\n    DNS_GROUP_POLICY: []\n    CONTROL_VARIABLES:\n        PBRA_DNS_POLICY_TCP: false\n`, F);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.policy, { groups: [], tiers: RGW_DEFAULT_TIERS, proofs: { udp: [], tcp: [], followUpOverUdp: true }, logUntrusted: false, circularPoolMax: 1000 });
    const bare = parseRgwPolicy('CIRCULARPOOL: {}\n', F);
    assert.deepEqual(bare.policy?.tiers, RGW_DEFAULT_TIERS);
    assert.equal(bare.policy?.circularPoolMax, undefined);
  });

  it('accepts the block style as well as the flow style', () => {
    const r = parseRgwPolicy(`CIRCULARPOOL:
  DNS_GROUP_POLICY:
    - initial_reputation: 0.7
      nodes:
        - 192.0.2.1
  CONTROL_VARIABLES:
    PBRA_DNS_LOG_UNTRUSTED: true
`, F);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.policy?.groups, [{ name: 'DNS_GROUP_POLICY[0]', nodes: [host('192.0.2.1')], sla: false, initialReputation: 0.7 }]);
    assert.equal(r.policy?.logUntrusted, true);
  });
});

describe('parseRgwPolicy: mistakes', () => {
  it('a misspelt flag (which Realm Gateway would silently ignore) and an unknown key', () => {
    assert.deepEqual(problems(`CIRCULARPOOL:\n    CONTROL_VARIABLES:\n        PBRA_DNS_POLICY_CNAEM: true\n        SYSTEM_LAOD: []\n`), [
      `${F}:3: CIRCULARPOOL.CONTROL_VARIABLES.PBRA_DNS_POLICY_CNAEM: unknown key 'PBRA_DNS_POLICY_CNAEM' (did you mean 'PBRA_DNS_POLICY_CNAME'?)`,
      `${F}:4: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LAOD: unknown key 'SYSTEM_LAOD' (did you mean 'SYSTEM_LOAD'?)`,
    ]);
    assert.deepEqual(problems(`CIRCULARPOOL: {}\nIPSET: {}\n`), [`${F}:2: IPSET: unknown key 'IPSET'`]);
    assert.deepEqual(problems(`CIRCULARPOOL:\n    DNS_GROUP_POLICY:\n        - {'initial_reputation': 1.0, 'nodes': ['192.0.2.1'], 'name': 'x'}\n`), [
      `${F}:3: CIRCULARPOOL.DNS_GROUP_POLICY[0].name: unknown key 'name'`,
    ]);
  });

  it('wrong types, quoted numbers and out-of-range values', () => {
    assert.deepEqual(problems(`CIRCULARPOOL:
    max: '1000'
    DNS_GROUP_POLICY:
        - {'initial_reputation': 1.5, 'sla': 'yes', 'nodes': '192.0.2.1'}
    CONTROL_VARIABLES:
        PBRA_DNS_POLICY_TCP: 'true'
        SYSTEM_LOAD:
            - {'threshold_min': '0', 'threshold_max': 100, 'fqdn_new': 0.2, 'sfqdn_new': 1.15, 'sfqdn_reuse': 0.05, 'math': 'median'}
`), [
      `${F}:2: CIRCULARPOOL.max: must be a whole number >= 0, not the string "1000"`,
      `${F}:4: CIRCULARPOOL.DNS_GROUP_POLICY[0].initial_reputation: must be a number 0..1, not 1.5`,
      `${F}:4: CIRCULARPOOL.DNS_GROUP_POLICY[0].sla: must be true or false, not the string "yes"`,
      `${F}:4: CIRCULARPOOL.DNS_GROUP_POLICY[0].nodes: must be a list, e.g. ['192.0.2.53'], not the string "192.0.2.1"`,
      `${F}:6: CIRCULARPOOL.CONTROL_VARIABLES.PBRA_DNS_POLICY_TCP: must be true or false, not the string "true"`,
      `${F}:8: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].threshold_min: must be a number 0..100, not the string "0"`,
      `${F}:8: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].sfqdn_new: must be a number 0..1, not 1.15`,
      `${F}:8: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].math: must be 'min', 'max' or 'avg', not the string "median"`,
    ]);
  });

  it("Realm Gateway's -1 (disable a row) is refused with a reason", () => {
    assert.deepEqual(problems(withRows(row(0, 100), `{'threshold_min': 0, 'threshold_max': -1, 'fqdn_new': 0, 'sfqdn_new': 0, 'sfqdn_reuse': 0, 'math': 'max'}`)), [
      `${F}:7: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[1].threshold_max: must be a number 0..100, not -1 (Realm Gateway's -1 to disable a row is not accepted: remove the row)`,
    ]);
  });

  it('a row without a key Realm Gateway indexes directly', () => {
    assert.deepEqual(problems(withRows(`{'threshold_min': 0, 'threshold_max': 100, 'fqdn_new': 0, 'sfqdn_new': 0, 'math': 'max'}`)), [
      `${F}:6: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0]: missing required key 'sfqdn_reuse'`,
    ]);
  });

  it('overlapping, gapped, short and empty tiers', () => {
    assert.deepEqual(problems(withRows(row(50, 100), row(0, 60))), [
      `${F}:6: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].threshold_min: row 50..100 overlaps row [1] (0..60); rows may only meet at an end point`,
    ]);
    assert.deepEqual(problems(withRows(row(60, 100), row(0, 50))), [
      `${F}:6: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].threshold_min: loads 50..60 % are covered by no row (row [1] ends at 50)`,
    ]);
    assert.deepEqual(problems(withRows(row(10, 90))), [
      `${F}:6: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].threshold_min: loads 0..10 % are covered by no row (every request would be refused there)`,
      `${F}:6: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].threshold_max: loads 90..100 % are covered by no row (every request would be refused there)`,
    ]);
    assert.deepEqual(problems(withRows(row(0, 100), row(40, 40))), [
      `${F}:7: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[1].threshold_max: must be above threshold_min (40): a row covers a range of loads`,
    ]);
    assert.deepEqual(problems(`CIRCULARPOOL:\n    CONTROL_VARIABLES:\n        SYSTEM_LOAD: []\n`), [
      `${F}:3: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD: needs at least one row: with none, every request would be refused`,
    ]);
  });

  it('a resolver in two groups, a CIDR block, a bad address, a group without nodes', () => {
    assert.deepEqual(problems(`CIRCULARPOOL:
    DNS_GROUP_POLICY:
        - {'nodes': ['192.0.2.1', '192.0.2.2']}
        - {'nodes': ['192.0.2.3',
                     '192.0.2.2']}
`), [`${F}:5: CIRCULARPOOL.DNS_GROUP_POLICY[1].nodes[1]: 192.0.2.2 overlaps 192.0.2.2 of group [0] (DNS_GROUP_POLICY[0]): a resolver belongs to one group`]);
    assert.deepEqual(problems(`CIRCULARPOOL:
    DNS_GROUP_POLICY:
        - {'nodes': ['192.0.2.0/24', '192.0.2.300', 7]}
        - {'sla': true}
        - {'nodes': []}
`), [
      `${F}:3: CIRCULARPOOL.DNS_GROUP_POLICY[0].nodes[0]: Realm Gateway matches node addresses literally; put CIDR blocks in realmgw's own pbra.groups`,
      `${F}:3: CIRCULARPOOL.DNS_GROUP_POLICY[0].nodes[1]: "192.0.2.300" is not an IPv4 address or CIDR block`,
      `${F}:3: CIRCULARPOOL.DNS_GROUP_POLICY[0].nodes[2]: must be an IPv4 address string, not 7`,
      `${F}:4: CIRCULARPOOL.DNS_GROUP_POLICY[1]: missing required key 'nodes'`,
      `${F}:5: CIRCULARPOOL.DNS_GROUP_POLICY[2].nodes: needs at least one resolver address`,
    ]);
  });

  it('not a policy file at all, YAML syntax and duplicate keys', () => {
    assert.deepEqual(problems(''), [`${F}: (top level): a circularpool policy file must be a mapping with the key 'CIRCULARPOOL', not empty`]);
    assert.deepEqual(problems('IPSET: {}\n'), [`${F}:1: IPSET: unknown key 'IPSET'`, `${F}:1: (top level): missing required key 'CIRCULARPOOL'`]);
    assert.match(problems('CIRCULARPOOL: {max: 1\n')[0], /^circularpool\.policy\.yaml:\d+: \(top level\): YAML syntax: /);
    assert.match(problems('CIRCULARPOOL:\n    max: 1\n    max: 2\n')[0], /^circularpool\.policy\.yaml:3: \(top level\): YAML syntax: .*[Uu]nique/);
  });

  it('reports every problem of a file at once', () => {
    const file = join(fixture('pbra-rgw-broken'), F);
    const r = parseRgwPolicy(readFileSync(file, 'utf8'), file);
    assert.deepEqual(r.problems.map((p) => [p.line, p.path.join('.')]), [
      [4, 'CIRCULARPOOL.DNS_GROUP_POLICY.0.initial_reputation'],
      [4, 'CIRCULARPOOL.DNS_GROUP_POLICY.0.sla'],
      [5, 'CIRCULARPOOL.DNS_GROUP_POLICY.1.nodes.1'],
      [8, 'CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD.0.threshold_min'],
      [11, 'CIRCULARPOOL.CONTROL_VARIABLES.PBRA_DNS_POLICY_CNAEM'],
    ]);
    assert.ok(r.problems.every((p) => p.file === file));
  });
});
