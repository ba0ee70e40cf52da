import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyText, type FirewallRule } from '../../src/policy/index.js';

/** Parses one FIREWALL_USER rule written in flow style on line 5. */
function rule(text: string): FirewallRule {
  const yaml = `h.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n    FIREWALL:\n        FIREWALL_USER:\n            - ${text}\n`;
  const r = parsePolicyText(yaml, 'p.yaml');
  assert.deepEqual(r.problems, []);
  return r.hosts[0].firewall.user[0];
}

const BASE = { priority: 5, direction: 'INGRESS', target: 'DROP', file: 'p.yaml', line: 5 } as const;
const P = 'priority: 5, direction: INGRESS, target: DROP';

describe('firewall rules: accepted forms', () => {
  const cases: { name: string; text: string; want: Partial<FirewallRule> }[] = [
    { name: 'no matches: the whole direction', text: `{${P}}`, want: {} },
    { name: 'numbers written as strings, as RealmGateway files do', text: `{priority: '5', direction: INGRESS, target: DROP, protocol: '6', tcp: {dport: '22'}}`, want: { protocol: 6, dport: { first: 22, last: 22 } } },
    { name: 'protocol by name', text: `{${P}, protocol: udp, udp: {sport: 53}}`, want: { protocol: 17, sport: { first: 53, last: 53 } } },
    { name: 'protocol 0 means any', text: `{${P}, protocol: '0'}`, want: {} },
    { name: 'sctp port range', text: `{${P}, protocol: '132', sctp: {dport: '1000:2000'}}`, want: { protocol: 132, dport: { first: 1000, last: 2000 } } },
    { name: 'other protocol without ports', text: `{${P}, protocol: '47'}`, want: { protocol: 47 } },
    { name: 'icmp type by name, any code', text: `{${P}, protocol: '1', icmp: {icmp-type: echo-request}}`, want: { protocol: 1, icmp: { type: 8 } } },
    { name: 'icmp type number', text: `{${P}, protocol: icmp, icmp: {icmp-type: 3}}`, want: { protocol: 1, icmp: { type: 3 } } },
    { name: 'src host and dst network', text: `{${P}, src: 100.64.0.2, dst: 192.168.0.0/24}`, want: { src: { address: '100.64.0.2', prefixLength: 32 }, dst: { address: '192.168.0.0', prefixLength: 24 } } },
    { name: 'hashlimit upto, several keys, no burst or expiry', text: `{${P}, hashlimit: {hashlimit-upto: '10/min', hashlimit-name: 'Lim', hashlimit-mode: 'srcip,dstport'}}`, want: { hashlimit: { name: 'Lim', mode: 'upto', rate: 10, per: 'minute', keys: ['srcip', 'dstport'] } } },
    { name: 'hashlimit without mode: one bucket', text: `{${P}, hashlimit: {hashlimit-above: '1/hour', hashlimit-name: 'All'}}`, want: { hashlimit: { name: 'All', mode: 'above', rate: 1, per: 'hour', keys: [] } } },
    { name: 'plain string match', text: `{${P}, string: {algo: kmp, string: 'GET /admin'}}`, want: { stringMatch: { algo: 'kmp', bytes: [...Buffer.from('GET /admin')] } } },
    { name: 'hex string with spaces inside bars', text: `{${P}, string: {algo: bm, hex-string: '|00 ff|a'}}`, want: { stringMatch: { algo: 'bm', bytes: [0, 255, 97] } } },
    { name: 'comment in RealmGateway form', text: `{${P}, comment: {comment: 'x y'}}`, want: { comment: 'x y' } },
    { name: 'plain comment', text: `{${P}, comment: 'x y'}`, want: { comment: 'x y' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(rule(c.text), { ...BASE, ...c.want }));

  it('keeps each chain sorted by priority, file order among equals', () => {
    const yaml = `h.gwa.demo.:
    ID: {ipv4: ['192.168.0.1']}
    FIREWALL:
        FIREWALL_ADMIN:
            - {priority: 9, direction: ANY, target: ACCEPT, comment: c}
            - {priority: 1, direction: ANY, target: DROP, comment: a}
            - {priority: 9, direction: ANY, target: DROP, comment: d}
            - {priority: 5, direction: ANY, target: REJECT, comment: b}
`;
    const r = parsePolicyText(yaml, 'p.yaml');
    assert.deepEqual(r.hosts[0].firewall.admin.map((x) => [x.comment, x.line]), [['a', 6], ['b', 8], ['c', 5], ['d', 7]]);
  });
});
