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

test('a matching first packet consumes the reservation and is marked for its host', () => {
  const pool = poolWith(6, 22);
  const v = decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 6, dstPort: 22 }, 10);
  assert.equal(v.kind, 'accept');
  assert.equal(v.kind === 'accept' && v.mark, 0x52470001);
  assert.equal(pool.stats.live, 0);
  const again = decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 6, dstPort: 22 }, 11);
  assert.deepEqual(again, { kind: 'reject', mark: 0x5247ffff }, 'single use: a second flow is refused');
});

test('wrong port, expired reservation and unparsable packets are refused per policy', () => {
  const pool = poolWith(6, 22);
  assert.equal(decideVerdict(pool, policy('reject'), { src: CLIENT, dst: A, protocol: 6, dstPort: 23 }, 10).kind, 'reject');
  assert.equal(decideVerdict(pool, policy('drop'), { src: CLIENT, dst: A, protocol: 6, dstPort: 22 }, 2000).kind, 'drop', 'expired at its lifetime');
  assert.equal(decideVerdict(pool, policy('drop'), undefined, 10).kind, 'drop');
});

test('a reservation whose host left the policy is refused, not DNATed to nowhere', () => {
  const pool = poolWith(0, 0);
  const v = decideVerdict(pool, { ...policy('reject'), markIndex: new Map() }, { src: CLIENT, dst: A, protocol: 1, dstPort: 0 }, 1);
  assert.equal(v.kind, 'reject');
});
