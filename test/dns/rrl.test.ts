import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rrl, rrlResponseKey } from '../../src/dns/server/rrl.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

const base = { responsesPerSecond: 10, slip: 2, window: 5, ipv4PrefixLength: 24, ipv6PrefixLength: 56, maxTracked: 1000 };

function verdicts(rrl: Rrl, client: number | string, key: string, n: number, at: number) {
  const counts = { send: 0, drop: 0, slip: 0 };
  for (let i = 0; i < n; i++) counts[rrl.check(client, key, at)]++;
  return counts;
}

test('within the rate everything is sent; beyond it, limited responses alternate drop and slip (slip 2)', () => {
  const rrl = new Rrl(base);
  assert.deepEqual(verdicts(rrl, parseIpv4('192.0.2.1'), 'a.gwa.demo/A', 10, 0), { send: 10, drop: 0, slip: 0 });
  const seq = Array.from({ length: 6 }, () => rrl.check(parseIpv4('192.0.2.1'), 'a.gwa.demo/A', 0));
  assert.deepEqual(seq, ['drop', 'slip', 'drop', 'slip', 'drop', 'slip']);
});

test('the budget is per /24 and per response: a neighbour shares it, another prefix or response does not', () => {
  const rrl = new Rrl(base);
  verdicts(rrl, '192.0.2.1', 'k', 10, 0);
  assert.notEqual(rrl.check('192.0.2.200', 'k', 0), 'send', 'same /24');
  assert.notEqual(rrl.check(parseIpv4('192.0.2.7'), 'k', 0), 'send', 'same /24 given as a number');
  assert.notEqual(rrl.check('::ffff:192.0.2.9', 'k', 0), 'send', 'IPv4-mapped');
  assert.equal(rrl.check('192.0.3.1', 'k', 0), 'send');
  assert.equal(rrl.check('192.0.2.1', 'other', 0), 'send');
});

test('IPv6 clients are grouped by /56', () => {
  const rrl = new Rrl(base);
  verdicts(rrl, '2001:db8:0:1100::1', 'k', 10, 0);
  assert.notEqual(rrl.check('2001:db8:0:11ff:ffff::2', 'k', 0), 'send');
  assert.equal(rrl.check('2001:db8:0:1200::1', 'k', 0), 'send');
});

test('the balance refills at the rate, and a flood leaves at most `window` seconds of debt', () => {
  const rrl = new Rrl(base);
  verdicts(rrl, '198.51.100.1', 'k', 10, 0);
  assert.equal(rrl.check('198.51.100.1', 'k', 0) === 'send', false);
  // 200 ms later two responses are earned back: one pays the limited response's debt, one is sent.
  assert.equal(rrl.check('198.51.100.1', 'k', 200), 'send');
  // A long flood: debt is capped at window * rate = 50 responses, paid back in 5 s.
  verdicts(rrl, '198.51.100.1', 'k', 100_000, 1000);
  assert.notEqual(rrl.check('198.51.100.1', 'k', 1000 + 4900), 'send');
  assert.equal(rrl.check('198.51.100.1', 'k', 1000 + 5200), 'send');
});

test('slip 0 drops every limited response; slip 1 sends every one truncated', () => {
  const none = new Rrl({ ...base, slip: 0 });
  verdicts(none, '203.0.113.1', 'k', 10, 0);
  assert.deepEqual(verdicts(none, '203.0.113.1', 'k', 10, 0), { send: 0, drop: 10, slip: 0 });
  const all = new Rrl({ ...base, slip: 1 });
  verdicts(all, '203.0.113.1', 'k', 10, 0);
  assert.deepEqual(verdicts(all, '203.0.113.1', 'k', 10, 0), { send: 0, drop: 0, slip: 10 });
});

test('memory is bounded by maxTracked, least recently used forgotten first', () => {
  const rrl = new Rrl({ ...base, maxTracked: 100 });
  verdicts(rrl, '192.0.2.1', 'hot', 10, 0); // exhausted
  for (let i = 0; i < 99; i++) rrl.check(i << 8, 'k', 0);
  assert.equal(rrl.tracked, 100);
  assert.notEqual(rrl.check('192.0.2.1', 'hot', 0), 'send', 'still remembered (and now most recent)');
  for (let i = 0; i < 100_000; i++) rrl.check((i + 1000) << 8, 'k', 0);
  assert.equal(rrl.tracked, 100);
  assert.equal(rrl.check('192.0.2.1', 'hot', 0), 'send', 'forgotten: a fresh balance');
});

test('bad options are refused', () => {
  assert.throws(() => new Rrl({ responsesPerSecond: 0 }), RangeError);
  assert.throws(() => new Rrl({ slip: 1.5 }), RangeError);
  assert.throws(() => new Rrl({ ipv4PrefixLength: 33 }), RangeError);
  assert.throws(() => new Rrl({ maxTracked: 0 }), RangeError);
});

test('response keys: answers per name and type, NXDOMAIN per zone, errors per rcode', () => {
  assert.notEqual(rrlResponseKey('answer', 0, 'a.gwa.demo', 1), rrlResponseKey('answer', 0, 'a.gwa.demo', 28));
  assert.equal(rrlResponseKey('nxdomain', 3, 'x1.gwa.demo', 1, 'gwa.demo'), rrlResponseKey('nxdomain', 3, 'x2.gwa.demo', 16, 'gwa.demo'));
  assert.equal(rrlResponseKey('error', 5, 'a.example', 1), rrlResponseKey('error', 5, 'b.example', 2));
  assert.notEqual(rrlResponseKey('error', 5, 'a', 1), rrlResponseKey('error', 1, 'a', 1));
});
