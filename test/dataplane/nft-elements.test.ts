import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAddress, encodeKey, encodeOps } from '../../src/dataplane/nft-elements.js';
import { planOps, planReservation, slotDeleteOps } from '../../src/dataplane/reservation-plan.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

const A = parseIpv4('100.64.1.131');
const HOST = parseIpv4('192.168.0.100');

describe('set-element wire format (nft concatenations: every field padded to 4 bytes)', () => {
  it('encodes each key shape', () => {
    assert.equal(encodeKey('exact', A, 6, 5000).toString('hex'), '64400183' + '06000000' + '13880000');
    assert.equal(encodeKey('anyport', A, 17, 0).toString('hex'), '64400183' + '11000000');
    assert.equal(encodeKey('anyproto', A, 0, 53).toString('hex'), '64400183' + '00350000');
    assert.equal(encodeKey('any', A, 0, 0).toString('hex'), '64400183');
    assert.equal(encodeAddress(HOST).toString('hex'), 'c0a80064');
  });

  it('encodes records: kind, set name, key, data, timeout (u32 little-endian)', () => {
    const buf = encodeOps([{ kind: 'add', set: 'pend_any', key: encodeKey('any', A, 0, 0), timeoutMs: 2000 }, { kind: 'delete', set: 'dnat_any', key: encodeKey('any', A, 0, 0) }]);
    assert.equal(
      buf.toString('hex'),
      '01' + '08' + Buffer.from('pend_any').toString('hex') + '04' + '64400183' + '00' + 'd0070000' +
        '02' + '08' + Buffer.from('dnat_any').toString('hex') + '04' + '64400183' + '00' + '00000000',
    );
  });

  it('refuses what the kernel could misread', () => {
    const key = encodeKey('any', A, 0, 0);
    assert.throws(() => encodeOps([{ kind: 'add', set: 'bad name', key }]), /set name/);
    assert.throws(() => encodeOps([{ kind: 'add', set: 'pend_any', key: Buffer.alloc(0) }]), /key length/);
    assert.throws(() => encodeOps([{ kind: 'add', set: 'dnat_any', key, data: Buffer.alloc(3) }]), /data length/);
    assert.throws(() => encodeOps([{ kind: 'add', set: 'pend_any', key, timeoutMs: 1.5 }]), /timeout/);
  });
});

describe('planOps: a reservation plan as element operations', () => {
  const slot = { address: A, protocol: 6, port: 5000 };
  it('a fresh slot: the target map element with its hold, then the pending marker', () => {
    const ops = planOps(planReservation(undefined, HOST, 2000, 0, 30_000), slot, HOST, undefined);
    assert.deepEqual(
      ops.map((o) => [o.kind, o.set, o.data?.toString('hex') ?? null, o.timeoutMs ?? null]),
      [['add', 'dnat_exact', 'c0a80064', 32_000], ['add', 'pend_exact', null, 2000]],
    );
  });

  it('clearing comes first, as add-then-delete pairs (the old target for the map)', () => {
    const first = planReservation(undefined, HOST, 2000, 0).next;
    const other = parseIpv4('192.168.0.101');
    const ops = planOps(planReservation(first, other, 2000, 100), slot, other, HOST);
    assert.deepEqual(
      ops.map((o) => [o.kind, o.set, o.data?.toString('hex') ?? null]),
      [['add', 'pend_exact', null], ['delete', 'pend_exact', null], ['add', 'dnat_exact', 'c0a80064'], ['delete', 'dnat_exact', null], ['add', 'dnat_exact', 'c0a80065'], ['add', 'pend_exact', null]],
    );
  });

  it('bare deletes for a slot in an unknown state, one transaction each', () => {
    assert.deepEqual(slotDeleteOps({ address: A, protocol: 0, port: 0 }).map((t) => t.map((o) => `${o.kind} ${o.set}`)), [['delete pend_any'], ['delete dnat_any']]);
  });
});
