import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowFromNetworks } from '../../src/dns/server/allow-clients.js';

test('clients inside any listed network are allowed, everyone else is not', () => {
  const allow = allowFromNetworks(['192.168.0.0/24', '10.1.2.3']);
  assert.equal(allow('192.168.0.1'), true);
  assert.equal(allow('192.168.0.255'), true);
  assert.equal(allow('::ffff:192.168.0.7'), true);
  assert.equal(allow('10.1.2.3'), true);
  assert.equal(allow('10.1.2.4'), false);
  assert.equal(allow('192.168.1.1'), false);
  assert.equal(allow('100.64.0.100'), false);
  assert.equal(allow('2001:db8::1'), false);
  assert.equal(allow(''), false);
});

test('an empty list allows no one; 0.0.0.0/0 allows every IPv4 client', () => {
  assert.equal(allowFromNetworks([])('192.168.0.1'), false);
  assert.equal(allowFromNetworks(['0.0.0.0/0'])('203.0.113.9'), true);
});

test('a malformed network is refused when the predicate is built', () => {
  assert.throws(() => allowFromNetworks(['192.168.0.0/33']));
  assert.throws(() => allowFromNetworks(['192.168.0/24']));
});
