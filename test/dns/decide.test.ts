import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildViews } from '../../src/dns/authority/views.js';
import { allocationAnswer, decide, QTYPE, type Decision } from '../../src/dns/answer/decide.js';
import { addressSlot, QUESTION_NAME } from '../../src/dns/wire/response-spec.js';
import { RCODE } from '../../src/dns/wire/parse-query.js';
import { hosts, poolAddrs, zones } from '../support/dns-view-fixture.js';

// Decisions are complete answers: the question's records say QUESTION_NAME (the encoder writes them in the
// client's spelling) and an allocation's address is a slot, not a stand-in address.

const { wan, lan } = buildViews(zones, hosts, { serviceAddress: '100.64.1.130', addresses: poolAddrs, nameZone: 'gwa.demo' });

function allocation(d: Decision): Extract<Decision, { kind: 'allocate' }> {
  assert.equal(d.kind, 'allocate');
  return d as Extract<Decision, { kind: 'allocate' }>;
}
function answer(d: Decision) {
  assert.equal(d.kind, 'answer');
  return (d as Extract<Decision, { kind: 'answer' }>).spec;
}

test('A for a service name allocates: the answer is the question with an address slot, TTL 0', () => {
  const d = allocation(decide(wan, 'www.hosta.gwa.demo', QTYPE.A, 1));
  assert.equal(d.service.fqdn, 'www.hosta.gwa.demo');
  assert.deepEqual(d.spec.answers, [addressSlot(QUESTION_NAME, 0)]);
  assert.deepEqual([d.spec.authorities, d.spec.additionals, d.spec.rcode, d.spec.authoritative], [[], [], RCODE.NOERROR, true]);
});

test('SRV allocates: the SRV is the question; the slot belongs to its target, which may be the question itself', () => {
  const byName = allocation(decide(wan, 'www.hosta.gwa.demo', QTYPE.SRV, 1)).spec;
  assert.deepEqual(byName.answers, [{ name: QUESTION_NAME, type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: 80, target: '_80._tcp.www.hosta.gwa.demo' } }]);
  assert.deepEqual(byName.additionals, [addressSlot('_80._tcp.www.hosta.gwa.demo', 0)]);
  const byTarget = allocation(decide(wan, '_80._tcp.www.hosta.gwa.demo', QTYPE.SRV, 1)).spec;
  assert.deepEqual(byTarget.additionals, [addressSlot(QUESTION_NAME, 0)]);
});

test('after a CNAME challenge the question is the alias: the SRV glue stays with the target', () => {
  const d = allocation(decide(wan, '_80._tcp.www.hosta.gwa.demo', QTYPE.SRV, 1));
  const spec = allocationAnswer(wan, 'abcdefgh.gwa.demo', d.service, d.shape);
  assert.equal(spec.answers[0]!.name, QUESTION_NAME);
  assert.deepEqual(spec.additionals, [addressSlot('_80._tcp.www.hosta.gwa.demo', 0)]);
});

test('zone records owned by the question say so; others keep their names', () => {
  const ns = answer(decide(wan, 'gwa.demo', QTYPE.NS, 1));
  assert.deepEqual(ns.answers, [{ name: QUESTION_NAME, type: 'NS', ttl: 3600, data: 'ns1.gwa.demo' }]);
  assert.deepEqual(ns.additionals, [{ name: 'ns1.gwa.demo', type: 'A', ttl: 3600, data: '100.64.1.130' }], 'glue keeps its owner');
  const chain = answer(decide(wan, 'alias.gwa.demo', QTYPE.A, 1));
  assert.deepEqual(chain.answers.map((rr) => rr.name), [QUESTION_NAME, 'ns1.gwa.demo']);
});

test('the SOA of a negative answer is the question only when the question is the apex', () => {
  const atApex = answer(decide(wan, 'gwa.demo', QTYPE.AAAA, 1));
  assert.deepEqual([atApex.rcode, atApex.authorities[0]!.name, atApex.authorities[0]!.ttl], [RCODE.NOERROR, QUESTION_NAME, 60]);
  const below = answer(decide(wan, 'nope.gwa.demo', QTYPE.A, 1));
  assert.deepEqual([below.rcode, below.authorities[0]!.name], [RCODE.NXDOMAIN, 'gwa.demo']);
});

test('LAN: host names are zone data, no slot; names outside our zones are forwarded', () => {
  const host = answer(decide(lan, 'www.hosta.gwa.demo', QTYPE.A, 1));
  assert.deepEqual(host.answers, [{ name: QUESTION_NAME, type: 'A', ttl: 3600, data: '192.168.0.100' }]);
  assert.equal(decide(lan, 'example.com', QTYPE.A, 1).kind, 'forward');
});
