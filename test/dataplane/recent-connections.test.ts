import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionKey, RecentConnections } from '../../src/dataplane/recent-connections.js';

test('remembers a connection for ttlMs, at most max of them, the oldest forgotten first', () => {
  const r = new RecentConnections(1000, 3);
  const k = (n: number) => connectionKey(1, n, 2, 80);
  r.add(k(1), 0);
  assert.equal(r.has(k(1), 999), true);
  assert.equal(r.has(k(1), 1000), false, 'forgotten after ttlMs');
  assert.equal(r.has(k(2), 0), false);
  for (const n of [2, 3, 4]) r.add(k(n), 10);
  assert.equal(r.size, 3, 'bounded');
  assert.equal(r.has(k(1), 10), false, 'the oldest went first');
  assert.equal(r.has(k(4), 10), true);
  r.add(k(5), 2000);
  assert.equal(r.size, 1, 'expired entries are dropped as new ones come');
  assert.notEqual(connectionKey(1, 2, 3, 4), connectionKey(1, 23, 4, 4));
});
