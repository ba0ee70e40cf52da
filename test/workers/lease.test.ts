import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareLeases, formatEndpoint, invertDiff, makeLease, parseEndpoint } from '../../src/workers/lease.js';

describe('endpoint strings', () => {
  const lease = makeLease('worker1', { port: 10053, protocol: 'tcp' }, 32898, '10.9.0.10');

  it('formats PORT/PROTO->ADDR:PUBPORT with the public address, not the target', () => {
    assert.equal(formatEndpoint(lease, '100.64.1.130'), '10053/tcp->100.64.1.130:32898');
  });

  it('parses what it formats', () => {
    assert.deepEqual(parseEndpoint('10053/udp->93.255.215.128:32898'), { port: 10053, protocol: 'udp', address: '93.255.215.128', publicPort: 32898 });
  });

  for (const bad of ['', '10053/tcp', '10053/sctp->1.2.3.4:1', '0/tcp->1.2.3.4:1', '1/tcp->1.2.3.4:65536', '1/tcp->1.2.3.256:1', '1/tcp->01.2.3.4:1', '1/tcp->1.2.3.4:1 ', '1/TCP->1.2.3.4:1']) {
    it(`does not parse ${JSON.stringify(bad)}`, () => assert.equal(parseEndpoint(bad), undefined));
  }
});

describe('leases', () => {
  it('are frozen', () => {
    const l = makeLease('w', { port: 1, protocol: 'udp' }, 40000, '10.0.0.2');
    assert.ok(Object.isFrozen(l) && Object.isFrozen(l.target));
  });

  it('sort by worker, protocol, port', () => {
    const ls = [
      makeLease('b', { port: 1, protocol: 'tcp' }, 1, '10.0.0.2'),
      makeLease('a', { port: 9, protocol: 'udp' }, 2, '10.0.0.2'),
      makeLease('a', { port: 80, protocol: 'tcp' }, 3, '10.0.0.2'),
      makeLease('a', { port: 22, protocol: 'tcp' }, 4, '10.0.0.2'),
    ];
    assert.deepEqual(ls.sort(compareLeases).map((l) => l.publicPort), [4, 3, 2, 1]);
  });

  it('a diff inverts into its rollback', () => {
    const a = makeLease('w', { port: 1, protocol: 'tcp' }, 1, '10.0.0.2');
    const b = makeLease('w', { port: 2, protocol: 'tcp' }, 2, '10.0.0.2');
    assert.deepEqual(invertDiff({ add: [a], remove: [b] }), { add: [b], remove: [a] });
  });
});
