import type { DataplaneModel } from '../../src/dataplane/model.js';

/**
 * A DataplaneModel for the testbed (interfaces wan0 / lan0, the demo addresses): two hosts in groups G1 and
 * G2, no firewall rules. Tests override what they exercise.
 */
export function testbedModel(over: Partial<DataplaneModel> = {}): DataplaneModel {
  return {
    table: 'realmgw',
    prefix: 'RGW',
    confirm: 'nfqueue',
    queue: { num: 1, bypass: false },
    unmatched: 'reject',
    wanInterface: 'wan0',
    lanInterface: 'lan0',
    lanNetwork: '192.168.0.0/24',
    serviceAddress: '100.64.1.130',
    poolAddresses: ['100.64.1.131', '100.64.1.132', '100.64.1.133'],
    markBase: 0x52470000,
    hosts: [
      { id: 'hosta.gwa.demo', ipv4: '192.168.0.100', markIndex: 1, groups: ['G1'], firewall: { admin: [], user: [] } },
      { id: 'hostb.gwa.demo', ipv4: '192.168.0.101', markIndex: 2, groups: ['G1', 'G2'], firewall: { admin: [], user: [] } },
    ],
    groups: new Map([
      ['G1', ['192.168.0.100', '192.168.0.101']],
      ['G2', ['192.168.0.101']],
    ]),
    ...over,
  };
}
