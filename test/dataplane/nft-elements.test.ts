import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAddress, encodeBindingKeys, encodeKey, encodeOps } from '../../src/dataplane/nft-elements.js';
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
    assert.deepEqual(slotDeleteOps({ address: A, protocol: 0, port: 0 }).map((t) => t.map((o) => `${o.kind} ${o.set}`)), [['delete pend_any'], ['delete pendb_any'], ['delete dnat_any']]);
    const withBinding = slotDeleteOps({ address: A, protocol: 0, port: 0 }, [undefined, { network: parseIpv4('100.64.0.0'), prefixLength: 24 }]);
    assert.deepEqual(withBinding.at(-1)!.map((o) => `${o.kind} ${o.set} ${o.key.toString('hex')}-${o.keyEnd!.toString('hex')}`), ['delete bind_any 6440000064400183-644000ff64400183']);
  });

  it('binding keys: the client prefix as a range, then the slot key at both ends; records carry the key end', () => {
    const b = encodeBindingKeys('exact', { network: parseIpv4('100.64.0.96'), prefixLength: 28 }, A, 6, 5000);
    assert.equal(b.key.toString('hex'), '64400060' + '64400183' + '06000000' + '13880000');
    assert.equal(b.keyEnd.toString('hex'), '6440006f' + '64400183' + '06000000' + '13880000');
    const all = encodeBindingKeys('any', { network: 0, prefixLength: 0 }, A, 0, 0);
    assert.equal(`${all.key.toString('hex')}-${all.keyEnd.toString('hex')}`, '0000000064400183-ffffffff64400183');
    const one = encodeBindingKeys('any', { network: parseIpv4('100.64.0.100'), prefixLength: 32 }, A, 0, 0);
    assert.equal(`${one.key.toString('hex')}-${one.keyEnd.toString('hex')}`, '6440006464400183-6440006464400183');
    const rec = encodeOps([{ kind: 'add', set: 'bind_any', ...one, timeoutMs: 1 }]);
    assert.equal(rec.toString('hex'), '81' + '08' + Buffer.from('bind_any').toString('hex') + '08' + one.key.toString('hex') + '08' + one.keyEnd.toString('hex') + '00' + '01000000');
    assert.throws(() => encodeOps([{ kind: 'add', set: 'bind_any', key: one.key, keyEnd: A ? Buffer.alloc(4) : one.keyEnd }]), /key end/);
  });

  it('a bound reservation: binding then bound marker; the next reservation of the slot removes that binding first', () => {
    const source = { network: parseIpv4('100.64.0.100'), prefixLength: 32 };
    const slot = { address: A, protocol: 6, port: 5000 };
    const first = planReservation(undefined, HOST, 2000, 0, undefined, source);
    assert.deepEqual(planOps(first, slot, HOST, undefined).map((o) => `${o.kind} ${o.set}`), ['add dnat_exact', 'add bind_exact', 'add pendb_exact']);
    assert.equal(planOps(first, slot, HOST, undefined)[1]!.timeoutMs, 3000, 'the binding outlives its marker');
    // unbound, while the bound marker may still be pending: its marker (in pendb) and binding go first
    const second = planReservation(first.next, HOST, 2000, 500);
    assert.deepEqual(planOps(second, slot, HOST, HOST, true).map((o) => `${o.kind} ${o.set}`), ['add pendb_exact', 'delete pendb_exact', 'add bind_exact', 'delete bind_exact', 'add pend_exact']);
    assert.equal(second.next.binding, undefined);
    // long after: nothing left to clear
    assert.deepEqual(planOps(planReservation(first.next, HOST, 2000, 60_000, undefined, source), slot, HOST, HOST, true).map((o) => `${o.kind} ${o.set}`), ['add dnat_exact', 'add bind_exact', 'add pendb_exact']);
  });
});
