// Counters from one `nft -j list table` (pure). CAPTURED is real output of nft 1.0.6 on this project's kernel:
// the table as nft-render.ts writes it, after one TCP and one UDP exchange through tcp/40001 and udp/40001, with
// tcp/40002 mapped but unused (rules trimmed to one: the parser reads the map and the sets only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NftCountersError, parseNftWorkerCounters } from '../../src/workers/backends/nft-counters.js';

const CAPTURED = {
  nftables: [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "ip", "name": "realmgw_workers", "handle": 4}},
    {"map": {"family": "ip", "name": "leases", "table": "realmgw_workers", "type": ["inet_proto", "inet_service"], "handle": 4, "map": "ipv4_addr . inet_service", "elem": [[{"concat": ["tcp", 40001]}, {"concat": ["10.77.0.2", 10053]}], [{"concat": ["udp", 40001]}, {"concat": ["10.77.0.2", 10053]}], [{"concat": ["tcp", 40002]}, {"concat": ["10.77.0.3", 22]}]]}},
    {"set": {"family": "ip", "name": "conns", "table": "realmgw_workers", "type": ["inet_proto", "inet_service"], "handle": 5, "elem": [{"elem": {"val": {"concat": ["tcp", 40001]}, "counter": {"packets": 1, "bytes": 60}}}, {"elem": {"val": {"concat": ["udp", 40001]}, "counter": {"packets": 1, "bytes": 33}}}, {"elem": {"val": {"concat": ["tcp", 40002]}, "counter": {"packets": 0, "bytes": 0}}}], "stmt": [{"counter": null}]}},
    {"set": {"family": "ip", "name": "traffic_in", "table": "realmgw_workers", "type": ["inet_proto", "inet_service"], "handle": 6, "elem": [{"elem": {"val": {"concat": ["tcp", 40001]}, "counter": {"packets": 5, "bytes": 274}}}, {"elem": {"val": {"concat": ["udp", 40001]}, "counter": {"packets": 1, "bytes": 33}}}, {"elem": {"val": {"concat": ["tcp", 40002]}, "counter": {"packets": 0, "bytes": 0}}}], "stmt": [{"counter": null}]}},
    {"set": {"family": "ip", "name": "traffic_out", "table": "realmgw_workers", "type": ["inet_proto", "inet_service"], "handle": 7, "elem": [{"elem": {"val": {"concat": ["tcp", 40001]}, "counter": {"packets": 5, "bytes": 297}}}, {"elem": {"val": {"concat": ["udp", 40001]}, "counter": {"packets": 1, "bytes": 57}}}, {"elem": {"val": {"concat": ["tcp", 40002]}, "counter": {"packets": 0, "bytes": 0}}}], "stmt": [{"counter": null}]}},
    {"chain": {"family": "ip", "table": "realmgw_workers", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
    {"chain": {"family": "ip", "table": "realmgw_workers", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 10, "policy": "accept"}},
    {"chain": {"family": "ip", "table": "realmgw_workers", "name": "postrouting", "handle": 3, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
    {"rule": {"family": "ip", "table": "realmgw_workers", "chain": "postrouting", "handle": 15, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"match": {"op": "==", "left": {"ct": {"key": "ip daddr", "dir": "original"}}, "right": "100.70.0.1"}}, {"match": {"op": "==", "left": {"concat": [{"meta": {"key": "l4proto"}}, {"ct": {"key": "proto-dst", "dir": "original"}}]}, "right": "@conns"}}, {"snat": {"addr": "10.77.0.1"}}]}},
  ],
};

const TABLE = 'realmgw_workers';
type Item = Record<string, { name?: string; elem?: unknown[] }>;
const items = (): Item[] => structuredClone(CAPTURED.nftables) as unknown as Item[];
const listing = (list: Item[]) => JSON.stringify({ nftables: list });

describe('nftables worker counters', () => {
  it('reads connections, packets and bytes both ways for every mapped lease', () => {
    const c = parseNftWorkerCounters(JSON.stringify(CAPTURED), TABLE);
    assert.deepEqual(Object.fromEntries(c), {
      'tcp/40001': { connections: 1, packetsIn: 5, bytesIn: 274, packetsOut: 5, bytesOut: 297 },
      'udp/40001': { connections: 1, packetsIn: 1, bytesIn: 33, packetsOut: 1, bytesOut: 57 },
      'tcp/40002': { connections: 0, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 },
    });
  });

  it('reports only leases in the map, and zero for an element a counted set lacks', () => {
    const list = items();
    const conns = list.find((i) => i.set?.name === 'conns')!.set;
    conns.elem = conns.elem!.slice(1); // tcp/40001 missing from conns
    const map = list.find((i) => i.map)!.map;
    map.elem = map.elem!.slice(0, 1); // only tcp/40001 mapped
    const c = parseNftWorkerCounters(listing(list), TABLE);
    assert.deepEqual([...c.keys()], ['tcp/40001']);
    assert.equal(c.get('tcp/40001')!.connections, 0);
    assert.equal(c.get('tcp/40001')!.packetsIn, 5);
  });

  it('an empty table (no elem keys at all) has no leases', () => {
    const list = items();
    for (const i of list) if (i.map ?? i.set) delete (i.map ?? i.set).elem;
    assert.equal(parseNftWorkerCounters(listing(list), TABLE).size, 0);
  });

  it('accepts protocol numbers where nft prints no name', () => {
    const list = items();
    const map = list.find((i) => i.map)!.map;
    map.elem = [[{ concat: [17, 40009] }, { concat: ['10.77.0.2', 53] }]];
    assert.deepEqual([...parseNftWorkerCounters(listing(list), TABLE).keys()], ['udp/40009']);
  });

  it('says what is wrong with a listing it cannot read', () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(() => parseNftWorkerCounters(text, TABLE), (err: unknown) => err instanceof NftCountersError && re.test(err.message));
    bad('not json', /not JSON/);
    bad('{"tables": []}', /no "nftables" array/);
    assert.throws(() => parseNftWorkerCounters(JSON.stringify(CAPTURED), 'other_table'), /no map leases in table other_table/);
    const list = items();
    list.find((i) => i.map)!.map.elem = [[{ concat: ['icmp', 1] }, { concat: ['10.77.0.2', 53] }]];
    bad(listing(list), /unexpected element key/);
    const negative = items();
    const traffic = negative.find((i) => i.set?.name === 'traffic_in')!.set;
    traffic.elem = [{ elem: { val: { concat: ['tcp', 40001] }, counter: { packets: -1, bytes: 0 } } }];
    bad(listing(negative), /counter of tcp\/40001 is -1/);
  });
});
