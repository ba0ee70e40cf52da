// Connection slots: the global cap, the per-source cap, IPv6 sources grouped by /64, release.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, sourceKey } from '../../src/proxy/admission.js';

describe('relay admission', () => {
  it('caps one source, serves another, and caps everyone at the global limit', () => {
    const a = new Admission(3, 2);
    assert.equal(a.admit('192.0.2.1'), undefined);
    assert.equal(a.admit('192.0.2.1'), undefined);
    assert.equal(a.admit('192.0.2.1'), 'sourceCap');
    assert.equal(a.admit('192.0.2.2'), undefined);
    assert.equal(a.admit('192.0.2.3'), 'connectionCap');
    assert.equal(a.active, 3);
    a.release('192.0.2.1');
    assert.equal(a.admit('192.0.2.3'), undefined);
  });

  it('forgets a source once it holds no slot (memory bounded by the global cap)', () => {
    const a = new Admission(10, 10);
    a.admit('192.0.2.1');
    a.admit('192.0.2.2');
    a.release('192.0.2.1');
    a.release('192.0.2.1'); // a double release is ignored, not negative
    assert.equal(a.sources, 1);
    assert.equal(a.active, 1);
  });

  it('keys: IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64', () => {
    assert.equal(sourceKey('192.0.2.1'), '192.0.2.1');
    assert.equal(sourceKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:2:ffff::9'));
    assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
  });
});
