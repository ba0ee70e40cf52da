// ipvsadm's text as the guest's ipvsadm 1.31 prints it: the rule dump and the exact statistics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpvsParseError, parseIpvsSave, parseIpvsStats } from '../../src/workers/backends/ipvs-parse.js';

const SAVE = `-A -t 100.64.9.1:80 -s rr
-A -t 100.64.9.1:30010 -s wrr
-a -t 100.64.9.1:30010 -r 10.9.0.2:10053 -m -w 100
-A -u 100.64.9.1:30011 -s wrr
-a -u 100.64.9.1:30011 -r 10.9.0.2:10053 -m -w 100
-A -t 100.64.9.1:30050 -s wrr -p 300
-a -t 100.64.9.1:30050 -r 10.9.0.3:22 -g -w 1 -x 10 -y 2
-A -f 7 -s rr
-a -f 7 -r 10.9.0.4:0 -i -w 1
-A -t [2001:db8::1]:443 -s wrr
`;

describe('parseIpvsSave', () => {
  it('reads services, their options and real servers', () => {
    const services = parseIpvsSave(SAVE);
    assert.equal(services.length, 6);
    assert.deepEqual(services[1], {
      spec: ['-t', '100.64.9.1:30010'],
      protocol: 'tcp',
      address: '100.64.9.1',
      port: 30010,
      scheduler: 'wrr',
      options: [],
      reals: [{ address: '10.9.0.2', port: 10053, forwarding: 'masq', weight: 100 }],
    });
    assert.equal(services[2].protocol, 'udp');
    assert.deepEqual(services[3].options, ['-p', '300']);
    assert.deepEqual(services[3].reals, [{ address: '10.9.0.3', port: 22, forwarding: 'route', weight: 1 }]);
    assert.equal(services[4].protocol, undefined, 'fwmark services have no protocol');
    assert.equal(services[4].reals[0].forwarding, 'tunnel');
    assert.equal(services[5].address, undefined, 'IPv6 services are not on an IPv4 address');
  });

  it('reads an empty table', () => {
    assert.deepEqual(parseIpvsSave(''), []);
  });

  it('refuses what it does not understand instead of guessing ownership from it', () => {
    assert.throws(() => parseIpvsSave('IP Virtual Server version 1.2.1\n'), IpvsParseError);
    assert.throws(() => parseIpvsSave('-a -t 1.2.3.4:80 -r 10.0.0.1:80 -m -w 1\n'), /unknown service/);
    assert.throws(() => parseIpvsSave('-A -t 1.2.3.4:80 -s wrr\n-a -t 1.2.3.4:80 -w 1\n'), /incomplete real server/);
  });
});

const STATS = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  100.64.9.1:80                         0        0        0        0        0
TCP  100.64.9.1:30010                      3       18       12     1081      854
  -> 10.9.0.2:10053                        3       18       12     1081      854
UDP  100.64.9.1:30011                      1        2        2       66       98
  -> 10.9.0.2:10053                        1        2        2       66       98
FWM  7                                     0        0        0        0        0
  -> 10.9.0.4:0                            0        0        0        0        0
TCP  [2001:db8::1]:443                     0        0        0        0        0
`;

describe('parseIpvsStats', () => {
  it('reads the service totals, skipping real servers, fwmark and IPv6 services', () => {
    assert.deepEqual(parseIpvsStats(STATS), [
      { protocol: 'tcp', address: '100.64.9.1', port: 80, counters: { connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 } },
      { protocol: 'tcp', address: '100.64.9.1', port: 30010, counters: { connections: 3, packetsIn: 18, packetsOut: 12, bytesIn: 1081, bytesOut: 854 } },
      { protocol: 'udp', address: '100.64.9.1', port: 30011, counters: { connections: 1, packetsIn: 2, packetsOut: 2, bytesIn: 66, bytesOut: 98 } },
    ]);
  });

  it('refuses abbreviated numbers (listing without --exact)', () => {
    assert.throws(() => parseIpvsStats('TCP  100.64.9.1:30010   3   18K   12   1081M   854\n'), /--exact/);
  });
});
