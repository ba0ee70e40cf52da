import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { decideVerdict, type VerdictPolicy } from '../../src/dataplane/verdict.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

const A = parseIpv4('100.64.1.131');
const HOSTA = parseIpv4('192.168.0.100');
const CLIENT = parseIpv4('100.64.0.100');
const policy = (unmatched: 'reject' | 'drop'): VerdictPolicy => ({ markBase: 0x52470000, unmatched, markIndex: new Map([['hosta.gwa.demo', 1]]) });

function poolWith(protocol: number, port: number) {
  const pool = new CircularPool({ addresses: [A], lifetimeMs: 2000 });
  pool.reserve({ key: { protocol, port }, hostId: 'hosta.gwa.demo', target: HOSTA, service: 'ssh.hosta.gwa.demo' }, 0);
  return pool;
}

const SYN = 0x02;
const ACK = 0x10;

test('a matching first packet (no handshake: UDP) consumes the reservation and is marked for its host', () => {
  const pool = poolWith(17, 53);
  const v = decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 17, dstPort: 53 }, 10);
  assert.equal(v.kind, 'accept');
  assert.equal(v.kind === 'accept' && v.mark, 0x52470001);
  assert.equal(v.kind === 'accept' && v.consumed, true);
  assert.equal(pool.stats.live, 0);
  const again = decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 17, dstPort: 53 }, 11);
  assert.deepEqual(again, { kind: 'reject', mark: 0x5247ffff, why: 'unmatched' }, 'single use: a second flow is refused');
});

test('TCP: the SYN is DNATed without consuming; the handshake ACK consumes; a second handshake is refused', () => {
  const pool = poolWith(6, 22);
  const syn = { src: CLIENT, dst: A, protocol: 6, dstPort: 22, tcpFlags: SYN };
  const spoofed = decideVerdict(pool, policy('reject'), { ...syn, src: parseIpv4('198.51.100.1') }, 10);
  assert.equal(spoofed.kind === 'accept' && spoofed.mark, 0x52470001, 'any SYN reaches the host');
  assert.equal(spoofed.kind === 'accept' && spoofed.consumed, false);
  const real = decideVerdict(pool, policy('reject'), syn, 11);
  assert.equal(real.kind === 'accept' && real.mark, 0x52470001);
  assert.equal(pool.stats.live, 1, 'SYNs consume nothing');
  const ack = decideVerdict(pool, policy('reject'), { ...syn, tcpFlags: ACK }, 12, 'handshake');
  assert.equal(ack.kind === 'accept' && ack.mark, 0x5247fffe, 'handshake ok mark');
  assert.equal(ack.kind === 'accept' && ack.consumed, true);
  assert.equal(pool.stats.consumed, 1);
  const late = decideVerdict(pool, policy('reject'), { ...syn, src: parseIpv4('198.51.100.1'), tcpFlags: ACK }, 13, 'handshake');
  assert.deepEqual(late, { kind: 'reject', mark: 0x5247ffff, why: 'handshake' }, 'the racing handshake is refused');
  assert.deepEqual(decideVerdict(pool, policy('reject'), syn, 14), { kind: 'reject', mark: 0x5247ffff, why: 'unmatched' }, 'single use');
});

test('TCP: a new flow that does not start with a SYN (conntrack picked it up mid-stream) consumes nothing', () => {
  const pool = poolWith(6, 22);
  for (const tcpFlags of [ACK, SYN | ACK, 0x04, undefined]) {
    const v = decideVerdict(pool, policy('drop'), { src: CLIENT, dst: A, protocol: 6, dstPort: 22, tcpFlags }, 10);
    assert.deepEqual(v, { kind: 'drop', why: 'not-syn' });
  }
  assert.equal(pool.stats.live, 1);
});

test('a reservation bound to a client subnet: a foreign first packet is refused as stolen and consumes nothing', () => {
  const pool = new CircularPool({ addresses: [A], lifetimeMs: 2000 });
  const source = { network: parseIpv4('100.64.0.96'), prefixLength: 28 };
  pool.reserve({ key: { protocol: 17, port: 53 }, hostId: 'hosta.gwa.demo', target: HOSTA, service: 'dns.hosta.gwa.demo', source }, 0);
  const foreign = decideVerdict(pool, policy('reject'), { src: parseIpv4('100.64.0.77'), dst: A, protocol: 17, dstPort: 53 }, 10);
  assert.deepEqual(foreign, { kind: 'reject', mark: 0x5247ffff, why: 'stolen' });
  assert.equal(pool.stats.live, 1);
  assert.deepEqual(decideVerdict(pool, policy('reject'), { src: parseIpv4('100.64.0.77'), dst: A, protocol: 17, dstPort: 54 }, 10), { kind: 'reject', mark: 0x5247ffff, why: 'unmatched' }, 'another key is not stolen');
  const bound = decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 17, dstPort: 53 }, 11);
  assert.equal(bound.kind, 'accept', 'the client inside the /28');
  assert.equal(pool.stats.consumed, 1);
});

test('wrong port, expired reservation and unparsable packets are refused per policy', () => {
  const pool = poolWith(6, 22);
  assert.equal(decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 6, dstPort: 23, tcpFlags: 0x02 }, 10).kind, 'reject');
  assert.equal(decideVerdict(pool, policy('drop'), { src: CLIENT, dst: A, protocol: 6, dstPort: 22, tcpFlags: 0x02 }, 2000).kind, 'drop', 'expired at its lifetime');
  assert.equal(decideVerdict(pool, policy('drop'), undefined, 10).kind, 'drop');
});

test('a reservation whose host left the policy is refused, not DNATed to nowhere', () => {
  const pool = poolWith(0, 0);
  const v = decideVerdict(pool, { ...policy('reject'), markIndex: new Map() }, { src: CLIENT, dst: A, protocol: 1, dstPort: 0 }, 1);
  assert.equal(v.kind, 'reject');
});
