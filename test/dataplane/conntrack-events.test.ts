import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHandshakeEvent, parseNewFlowEvent } from '../../src/dataplane/conntrack-events.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

test('parses DNATed TCP, UDP and ICMP new-flow events', () => {
  const tcp = parseNewFlowEvent('    [NEW] tcp      6 120 SYN_SENT src=100.64.0.100 dst=100.64.1.131 sport=4711 dport=80 [UNREPLIED] src=192.168.0.100 dst=100.64.0.100 sport=80 dport=4711');
  assert.deepEqual(tcp, { protocol: 6, src: parseIpv4('100.64.0.100'), dst: parseIpv4('100.64.1.131'), dstPort: 80, replySrc: parseIpv4('192.168.0.100') });
  const udp = parseNewFlowEvent('[NEW] udp      17 30 src=100.64.0.100 dst=100.64.1.132 sport=5 dport=5001 [UNREPLIED] src=192.168.0.101 dst=100.64.0.100 sport=5001 dport=5');
  assert.equal(udp?.protocol, 17);
  assert.equal(udp?.dstPort, 5001);
  const icmp = parseNewFlowEvent('[NEW] icmp     1 30 src=100.64.0.100 dst=100.64.1.133 type=8 code=0 id=7 [UNREPLIED] src=192.168.0.100 dst=100.64.0.100 type=0 code=0 id=7');
  assert.equal(icmp?.protocol, 1);
  assert.equal(icmp?.dstPort, 0);
  assert.equal(icmp?.replySrc, parseIpv4('192.168.0.100'));
});

test('ignores other events, IPv6 and noise', () => {
  assert.equal(parseNewFlowEvent('[DESTROY] tcp 6 src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2 src=5.6.7.8 dst=1.2.3.4 sport=2 dport=1'), undefined);
  assert.equal(parseNewFlowEvent('[NEW] udp 17 30 src=fe80::1 dst=ff02::fb sport=5353 dport=5353 [UNREPLIED] src=ff02::fb dst=fe80::1 sport=5353 dport=5353'), undefined);
  assert.equal(parseNewFlowEvent('conntrack v1.4.7 (conntrack-tools): 3 flow events have been shown.'), undefined);
  assert.equal(parseNewFlowEvent(''), undefined);
});

test('parses the UPDATE event of a TCP connection with its ct mark (the handshake consumed its reservation)', () => {
  const e = parseHandshakeEvent(
    '[UPDATE] tcp      6 432000 ESTABLISHED src=100.64.0.100 dst=100.64.1.131 sport=4711 dport=5000 src=192.168.0.100 dst=100.64.0.100 sport=5000 dport=4711 [ASSURED] mark=251658240',
  );
  assert.deepEqual(e, { src: parseIpv4('100.64.0.100'), srcPort: 4711, dst: parseIpv4('100.64.1.131'), dstPort: 5000, mark: 0x0f000000, state: 'ESTABLISHED' });
  assert.equal(parseHandshakeEvent('[NEW] tcp 6 120 SYN_SENT src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2 [UNREPLIED] src=5.6.7.8 dst=1.2.3.4 sport=2 dport=1 mark=1'), undefined);
  assert.equal(parseHandshakeEvent('[UPDATE] udp 17 30 src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2 src=5.6.7.8 dst=1.2.3.4 sport=2 dport=1 mark=1'), undefined);
  assert.equal(parseHandshakeEvent('[UPDATE] tcp 6 30 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2 src=5.6.7.8 dst=1.2.3.4 sport=2 dport=1'), undefined, 'no mark');
  assert.equal(parseHandshakeEvent('[UPDATE] tcp 6 30 ESTABLISHED src=fe80::1 dst=fe80::2 sport=1 dport=2 mark=1'), undefined);
});
