import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildViews } from '../../src/dns/authority/views.js';
import type { ZoneSource } from '../../src/dns/authority/zone-tree.js';
import { NO_DYNAMIC_NAMES, WorkerNameTable, workerNames } from '../../src/dns/authority/worker-names.js';
import { decide, QTYPE } from '../../src/dns/answer/decide.js';
import { RCODE } from '../../src/dns/wire/parse-query.js';
import { QUESTION_NAME } from '../../src/dns/wire/response-spec.js';

const soa = {
  name: 'gwa.demo', type: 'SOA', ttl: 3600,
  data: { mname: 'ns1.gwa.demo', rname: 'hostmaster.gwa.demo', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
};
const zones: ZoneSource[] = [{ origin: 'gwa.demo', soa, records: [soa, { name: 'ns1.gwa.demo', type: 'A', ttl: 3600, data: '100.64.1.130' }] }];
const { wan } = buildViews(zones, [], { serviceAddress: '100.64.1.130', addresses: [] });
const view = {
  ...wan,
  dynamic: workerNames(
    [
      { name: 'worker1', leases: [{ protocol: 'tcp', port: 10053, publicPort: 20417 }, { protocol: 'udp', port: 10053, publicPort: 20988 }] },
      { name: 'Worker2', leases: [] },
    ],
    'GWA.demo.',
    '100.64.1.130',
  ),
};

function answer(qname: string, qtype: number) {
  const d = decide(view, qname, qtype, 1);
  assert.equal(d.kind, 'answer');
  return (d as Extract<typeof d, { kind: 'answer' }>).spec;
}

describe('worker names in DNS', () => {
  it('<worker>.<zone> A is the public address, with TTL 0', () => {
    const spec = answer('worker1.gwa.demo', QTYPE.A);
    assert.equal(spec.rcode, RCODE.NOERROR);
    assert.deepEqual(spec.answers, [{ name: QUESTION_NAME, type: 'A', ttl: 0, data: '100.64.1.130' }]);
    assert.equal(answer('worker2.gwa.demo', QTYPE.A).answers.length, 1, 'names are canonical (lowercase, no trailing dot)');
  });

  it('_<port>._<proto>.<worker>.<zone> SRV names the leased public port and carries the A as additional', () => {
    const tcp = answer('_10053._tcp.worker1.gwa.demo', QTYPE.SRV);
    assert.deepEqual(tcp.answers, [
      { name: QUESTION_NAME, type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: 20417, target: 'worker1.gwa.demo' } },
    ]);
    assert.deepEqual(tcp.additionals, [{ name: 'worker1.gwa.demo', type: 'A', ttl: 0, data: '100.64.1.130' }]);
    assert.equal((answer('_10053._udp.worker1.gwa.demo', QTYPE.SRV).answers[0]!.data as { port: number }).port, 20988);
  });

  it('other types, the empty non-terminal and unknown names answer like a zone would', () => {
    const nodata = answer('worker1.gwa.demo', QTYPE.AAAA);
    assert.deepEqual([nodata.rcode, nodata.answers.length, nodata.authorities[0]!.type], [RCODE.NOERROR, 0, 'SOA']);
    assert.deepEqual([answer('_tcp.worker1.gwa.demo', QTYPE.SRV).rcode, answer('_tcp.worker1.gwa.demo', QTYPE.SRV).answers.length], [RCODE.NOERROR, 0]);
    assert.equal(answer('_53._tcp.worker1.gwa.demo', QTYPE.SRV).rcode, RCODE.NXDOMAIN, 'a port the worker does not export');
    assert.equal(answer('worker3.gwa.demo', QTYPE.A).rcode, RCODE.NXDOMAIN);
    assert.equal(answer('ns1.gwa.demo', QTYPE.A).answers[0]!.data, '100.64.1.130', 'zone data still answers');
  });

  it('without registrations the names are gone', () => {
    const spec = decide({ ...wan, dynamic: NO_DYNAMIC_NAMES }, 'worker1.gwa.demo', QTYPE.A, 1);
    assert.equal(spec.kind === 'answer' && spec.spec.rcode, RCODE.NXDOMAIN);
  });
});

describe('WorkerNameTable: one worker at a time', () => {
  it('replacing a worker changes only its names; removing it removes all of them', () => {
    const table = new WorkerNameTable('gwa.demo', '100.64.1.130');
    table.set('w1', [{ protocol: 'tcp', port: 80, publicPort: 20001 }, { protocol: 'udp', port: 53, publicPort: 20002 }]);
    table.set('w2', [{ protocol: 'tcp', port: 80, publicPort: 20003 }]);
    table.set('w1', [{ protocol: 'tcp', port: 8080, publicPort: 20004 }]);
    const v = { ...wan, dynamic: table };
    const srv = (name: string) => {
      const d = decide(v, name, QTYPE.SRV, 1);
      return d.kind === 'answer' ? d.spec : assert.fail('not an answer');
    };
    assert.equal(srv('_80._tcp.w1.gwa.demo').rcode, RCODE.NXDOMAIN, 'the old service is gone');
    assert.equal(srv('_53._udp.w1.gwa.demo').rcode, RCODE.NXDOMAIN);
    assert.equal(srv('_udp.w1.gwa.demo').rcode, RCODE.NXDOMAIN, 'and its empty non-terminal');
    assert.equal((srv('_8080._tcp.w1.gwa.demo').answers[0]!.data as { port: number }).port, 20004);
    assert.equal((srv('_80._tcp.w2.gwa.demo').answers[0]!.data as { port: number }).port, 20003, 'w2 untouched');
    table.set('w1', undefined);
    assert.equal(decide(v, 'w1.gwa.demo', QTYPE.A, 1).kind === 'answer' && (decide(v, 'w1.gwa.demo', QTYPE.A, 1) as { spec: { rcode: number } }).spec.rcode, RCODE.NXDOMAIN);
    assert.deepEqual([...table.records.keys()].sort(), ['_80._tcp.w2.gwa.demo', 'w2.gwa.demo']);
    assert.deepEqual([...table.nonTerminals], ['_tcp.w2.gwa.demo']);
  });
});
