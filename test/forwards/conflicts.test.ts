import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardProblems, type ForwardContext } from '../../src/forwards/conflicts.js';
import { forwardsSection, type ForwardsSection } from '../../src/forwards/schema.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

const ctx: ForwardContext = {
  serviceAddress: '100.64.1.130',
  poolAddresses: new Set(['100.64.1.131', '100.64.1.132', '100.64.1.133'].map(parseIpv4)),
  hasDataplane: true,
  workers: { publicAddress: '100.64.1.130', first: 20000, last: 20999 },
  listeners: [
    { address: '100.64.1.130', port: 53, protocol: 'udp', what: 'DNS (dns.wan.listen[0])' },
    { address: '100.64.1.130', port: 53, protocol: 'tcp', what: 'DNS (dns.wan.listen[0])' },
    { address: '0.0.0.0', port: 3478, protocol: 'udp', what: 'STUN (stun.listen)' },
  ],
};

const section = (rules: unknown[], extra: object = {}): ForwardsSection => forwardsSection.parse({ rules, ...extra });
const reasons = (s: ForwardsSection, c: ForwardContext = ctx) => forwardProblems(s, c).map((p) => `${p.path.join('.')}: ${p.reason}`);

test("the demo's three forwards have no problem", () => {
  const s = section(
    [
      { name: 'ssh-hosta', protocol: 'tcp', port: 2222, to: { address: '192.168.0.100', port: 22 } },
      { name: 'web-hostb', protocol: 'tcp', port: 8080, to: { address: '192.168.0.101', port: 8080 }, mode: 'fullnat' },
      { name: 'ntp-hosta', protocol: 'udp', port: 1123, to: { address: '192.168.0.100', port: 123 }, mode: 'fullnat' },
    ],
    { innerAddress: '192.168.0.1' },
  );
  assert.deepEqual(reasons(s), []);
});

test('each conflict is reported at its key, all at once', () => {
  const s = section([
    { name: 'a', protocol: 'udp', port: 53, to: { address: '192.168.0.100', port: 53 } },
    { name: 'b', protocol: 'tcp', port: [20990, 21010], to: { address: '192.168.0.100', port: 1000 } },
    { name: 'c', protocol: 'tcp', port: 80, to: { address: '192.168.0.100', port: 80 }, address: '100.64.1.131' },
    { name: 'd', protocol: 'udp', port: 3478, to: { address: '192.168.0.100', port: 3478 }, address: '100.64.1.140' },
    { name: 'a', protocol: 'tcp', port: [21005, 21020], to: { address: '192.168.0.100', port: 65530 }, mode: 'fullnat' },
    { name: 'f', protocol: 'tcp', port: [3000, 2000], to: { address: '100.64.1.132', port: 1 } },
    { name: 'g', protocol: 'tcp', port: [1, 2000], to: { address: '192.168.0.100', port: 1 } },
  ]);
  assert.deepEqual(reasons(s), [
    "forwards.rules.0.port: udp 53 on 100.64.1.130 is realmgw's own DNS (dns.wan.listen[0]) listener",
    "forwards.rules.1.port: 20990-21010 overlaps the workers' ports 20000-20999 on 100.64.1.130",
    'forwards.rules.2.address: 100.64.1.131 is a pool address: pool addresses are DNATed per reservation, never forwarded',
    "forwards.rules.3.port: udp 3478 on 100.64.1.140 is realmgw's own STUN (stun.listen) listener",
    'forwards.rules.4.name: "a" is already the name of rules[0]',
    'forwards.rules.4.to.port: ports 21005-21020 map one to one onto 65530-65545, past 65535',
    "forwards.rules.4.mode: fullnat needs forwards.innerAddress (the gateway's address on the inner network, the source the host sees)",
    'forwards.rules.4.port: tcp 21005-21020 on 100.64.1.130 overlaps rules[1] ("b", 20990-21010)',
    'forwards.rules.5.port: [3000, 2000] is reversed: write [first, last]',
    "forwards.rules.5.to.address: 100.64.1.132 is one of the gateway's public addresses, not a private host",
    'forwards.rules.6.port: 2000 ports; one rule forwards at most 1024',
  ]);
});

test('the same port on another protocol or another address is no conflict; allowFrom host bits are', () => {
  const s = section([
    { name: 'a', protocol: 'tcp', port: 5000, to: { address: '192.168.0.100', port: 5000 } },
    { name: 'b', protocol: 'udp', port: 5000, to: { address: '192.168.0.100', port: 5000 } },
    { name: 'c', protocol: 'tcp', port: 5000, to: { address: '192.168.0.101', port: 5000 }, address: '100.64.1.140', allowFrom: ['198.51.100.1/24'] },
  ]);
  assert.deepEqual(reasons(s), ['forwards.rules.2.allowFrom.0: "198.51.100.1/24" has host bits set; did you mean 198.51.100.0/24?']);
});

test('without a data plane there is nothing to install forwards in', () => {
  const s = section([{ name: 'a', protocol: 'sctp', port: 5000, to: { address: '192.168.0.100', port: 5000 } }]);
  assert.deepEqual(reasons(s, { ...ctx, hasDataplane: false }), ["forwards: static forwards need the data plane (a dataplane section): they are installed in realmgw's nft table"]);
});

test('the schema refuses unknown keys, bad names and protocols', () => {
  for (const bad of [
    { rules: [{ name: 'A', protocol: 'tcp', port: 1, to: { address: '192.168.0.1', port: 1 } }] },
    { rules: [{ name: 'a', protocol: 'icmp', port: 1, to: { address: '192.168.0.1', port: 1 } }] },
    { rules: [{ name: 'a', protocol: 'tcp', port: 0, to: { address: '192.168.0.1', port: 1 } }] },
    { rules: [{ name: 'a', protocol: 'tcp', port: 1, to: { address: '192.168.0.1', port: 1 }, mdoe: 'dnat' }] },
    { rules: [] },
  ]) {
    assert.equal(forwardsSection.safeParse(bad).success, false, JSON.stringify(bad));
  }
});
