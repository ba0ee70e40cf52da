import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveForwards } from '../../src/forwards/model.js';
import { renderForwards } from '../../src/forwards/render.js';
import { forwardsSection } from '../../src/forwards/schema.js';

test('one port, a range, dnat and fullnat, allowFrom: the rendered lines', () => {
  const section = forwardsSection.parse({
    innerAddress: '192.168.0.1',
    rules: [
      { name: 'ssh-hosta', protocol: 'tcp', port: 2222, to: { address: '192.168.0.100', port: 22 }, allowFrom: ['198.51.100.0/24', '203.0.113.7'] },
      { name: 'rtp', protocol: 'udp', port: [3000, 3002], to: { address: '192.168.0.101', port: 4000 }, mode: 'fullnat', address: '100.64.1.140' },
    ],
  });
  const f = renderForwards(resolveForwards(section, '100.64.1.130'));
  assert.deepEqual(f.objects, ['counter fwd_ssh_hosta_new {', '}', 'counter fwd_ssh_hosta_traffic {', '}', 'counter fwd_rtp_new {', '}', 'counter fwd_rtp_traffic {', '}']);
  assert.deepEqual(f.prerouting, [
    'ip daddr 100.64.1.130 ip saddr { 198.51.100.0/24, 203.0.113.7 } meta l4proto tcp th dport 2222 counter name fwd_ssh_hosta_new dnat ip to 192.168.0.100:22',
    'ip daddr 100.64.1.140 meta l4proto udp th dport 3000-3002 counter name fwd_rtp_new dnat ip addr . port to th dport map { 3000 : 192.168.0.101 . 4000, 3001 : 192.168.0.101 . 4001, 3002 : 192.168.0.101 . 4002 }',
  ]);
  assert.deepEqual(f.forward, [
    'meta l4proto tcp ct status dnat ct original ip daddr 100.64.1.130 ct original proto-dst 2222 counter name fwd_ssh_hosta_traffic',
    'meta l4proto udp ct status dnat ct original ip daddr 100.64.1.140 ct original proto-dst 3000-3002 counter name fwd_rtp_traffic',
  ]);
  // only the fullnat rule is SNATed to the inner address
  assert.deepEqual(f.postrouting, ['meta l4proto udp ct status dnat ct original ip daddr 100.64.1.140 ct original proto-dst 3000-3002 snat ip to 192.168.0.1']);
});
