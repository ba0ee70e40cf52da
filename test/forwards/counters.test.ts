import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardStats, parseNftCounters } from '../../src/forwards/counters.js';
import { resolveForwards } from '../../src/forwards/model.js';
import { forwardsSection } from '../../src/forwards/schema.js';

const forwards = resolveForwards(
  forwardsSection.parse({
    innerAddress: '192.168.0.1',
    rules: [
      { name: 'ssh-hosta', protocol: 'tcp', port: 2222, to: { address: '192.168.0.100', port: 22 } },
      { name: 'rtp', protocol: 'udp', port: [3000, 3002], to: { address: '192.168.0.101', port: 4000 }, mode: 'fullnat', allowFrom: ['198.51.100.0/24'] },
    ],
  }),
  '100.64.1.130',
);

test("a forward's connections are its nat counter's packets; its traffic is the forward counter", () => {
  const dump = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'ip', name: 'fwd_ssh_hosta_new', table: 'realmgw', handle: 3, packets: 2, bytes: 120 } },
      { counter: { family: 'ip', name: 'fwd_ssh_hosta_traffic', table: 'realmgw', handle: 4, packets: 40, bytes: 4000 } },
      { counter: { family: 'ip', name: 'stolen', table: 'realmgw', handle: 5, packets: 1, bytes: 60 } },
    ],
  });
  assert.deepEqual(forwardStats(forwards, parseNftCounters(dump)), [
    { name: 'ssh-hosta', protocol: 'tcp', public: '100.64.1.130:2222', private: '192.168.0.100:22', mode: 'dnat', allowFrom: 0, connections: 2, packets: 40, bytes: 4000 },
    // not in the dump (e.g. the table is gone): no numbers rather than zeros
    { name: 'rtp', protocol: 'udp', public: '100.64.1.130:3000-3002', private: '192.168.0.101:4000-4002', mode: 'fullnat', allowFrom: 1 },
  ]);
});

test('a malformed dump counts nothing', () => {
  for (const bad of ['', '{', '[]', '{"nftables":[{"counter":{"name":"x","packets":"1"}}]}']) assert.equal(parseNftCounters(bad).size, 0, bad);
});
