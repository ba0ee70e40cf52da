// The nftables worker backend's pure half: option checks, the table, diff rendering and every refusal.
// (nft-backend.kernel.test.ts proves the same text in the kernel.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease } from '../../src/workers/lease.js';
import {
  NftWorkersError,
  compileNftWorkersOptions,
  diffProblems,
  renderNftWorkersDiff,
  renderNftWorkersStart,
} from '../../src/workers/backends/nft-render.js';

const OPTS = { publicAddress: '100.64.1.130', privateAddress: '10.9.0.1', privateNetwork: '10.9.0.0/24' };
const SETUP = compileNftWorkersOptions(OPTS);

const lease = (protocol: 'tcp' | 'udp', publicPort: number, address = '10.9.0.10', port = 10053, worker = 'w1'): Lease => ({
  worker,
  publicPort,
  protocol,
  target: { address, port },
});

function refusal(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NftWorkersError, String(err));
    return [...err.problems];
  }
  assert.fail('expected an NftWorkersError');
}

describe('nftables worker backend: options', () => {
  it('defaults the table to realmgw_workers and accepts another plain name', () => {
    assert.equal(SETUP.table, 'realmgw_workers');
    assert.equal(compileNftWorkersOptions({ ...OPTS, table: 'rgwt_workers_1' }).table, 'rgwt_workers_1');
  });

  it('lists every bad option at once', () => {
    const problems = refusal(() =>
      compileNftWorkersOptions({ table: 'x; flush ruleset', publicAddress: 'gw', privateAddress: '10.8.0.1', privateNetwork: '10.9.0.0/24' }),
    );
    assert.deepEqual(problems, [
      `table "x; flush ruleset" is not a plain name (letters, digits, '_')`,
      'publicAddress "gw" is not an IPv4 address',
      'privateAddress 10.8.0.1 is outside privateNetwork 10.9.0.0/24',
    ]);
  });

  it('refuses a network that is not a CIDR block or has host bits set', () => {
    assert.match(refusal(() => compileNftWorkersOptions({ ...OPTS, privateNetwork: '10.9.0.0' }))[0], /not an IPv4 CIDR block/);
    assert.match(refusal(() => compileNftWorkersOptions({ ...OPTS, privateNetwork: '10.9.0.7/24' }))[0], /host bits set/);
  });
});

describe('nftables worker backend: the table', () => {
  const text = renderNftWorkersStart(SETUP, []);

  it('replaces a leftover copy in the same transaction: create, delete, then define', () => {
    assert.deepEqual(text.split('\n').slice(1, 4), ['table ip realmgw_workers', 'delete table ip realmgw_workers', 'table ip realmgw_workers {']);
    assert.ok(!/flush|^delete (?!table ip realmgw_workers$)/m.test(text), 'deletes nothing but its own table');
    assert.ok(!/\btable ip (?!realmgw_workers\b)/.test(text), 'names no other table');
  });

  it('DNATs the public address through the lease map, tcp and udp only', () => {
    assert.match(text, /type nat hook prerouting priority dstnat;/);
    assert.match(text, /ip daddr 100\.64\.1\.130 meta l4proto \{ tcp, udp \} dnat ip to meta l4proto \. th dport map @leases/);
    assert.match(text, /map leases \{\n\t\ttype inet_proto \. inet_service : ipv4_addr \. inet_service\n/);
  });

  it('SNATs to the private address exactly the connections it DNATed (FULL-NAT), counting them', () => {
    const snat = text.split('\n').filter((l) => l.includes('snat'));
    assert.deepEqual(
      snat.map((l) => l.trim()),
      ['tcp', 'udp'].map((p) => `meta l4proto ${p} ct status dnat ct original ip daddr 100.64.1.130 meta l4proto . ct original proto-dst @conns snat ip to 10.9.0.1`),
    );
    assert.match(text, /type nat hook postrouting priority srcnat;/);
  });

  it('accounts both directions in a forward chain that never gives a verdict', () => {
    const forward = /chain forward \{\n([^}]*)\}/.exec(text)![1];
    assert.match(forward, /type filter hook forward priority filter \+ 10; policy accept;/);
    for (const p of ['tcp', 'udp']) {
      assert.match(forward, new RegExp(`meta l4proto ${p} .* ct direction original .*@traffic_in`));
      assert.match(forward, new RegExp(`meta l4proto ${p} .* ct direction reply .*@traffic_out`));
    }
    assert.ok(!/\b(accept|drop|reject|jump|goto)\s*$/m.test(forward.split('\n').slice(1).join('\n')), 'no verdicts in rules');
  });

  it('declares the three counted sets with per-element counters', () => {
    for (const s of ['conns', 'traffic_in', 'traffic_out']) {
      assert.match(text, new RegExp(`set ${s} \\{\\n\\t\\ttype inet_proto \\. inet_service\\n\\t\\tcounter\\n\\t\\}`));
    }
  });

  it('maps restored leases in the same transaction, after the definition', () => {
    const restored = renderNftWorkersStart(SETUP, [lease('tcp', 40001), lease('udp', 40002, '10.9.0.11', 123)]);
    const lines = restored.trimEnd().split('\n');
    assert.deepEqual(lines.slice(-4), [
      'add element ip realmgw_workers leases { tcp . 40001 : 10.9.0.10 . 10053, udp . 40002 : 10.9.0.11 . 123 }',
      'add element ip realmgw_workers conns { tcp . 40001, udp . 40002 }',
      'add element ip realmgw_workers traffic_in { tcp . 40001, udp . 40002 }',
      'add element ip realmgw_workers traffic_out { tcp . 40001, udp . 40002 }',
    ]);
    assert.ok(lines.indexOf('}') < lines.length - 4);
  });

  it('uses the configured table name everywhere', () => {
    const other = renderNftWorkersStart(compileNftWorkersOptions({ ...OPTS, table: 'rgwt_w' }), [lease('tcp', 40001)]);
    assert.ok(!other.includes('realmgw_workers'));
    assert.match(other, /^add element ip rgwt_w leases /m);
  });

  it('refuses a restored lease it would not map, rendering nothing', () => {
    assert.deepEqual(refusal(() => renderNftWorkersStart(SETUP, [lease('tcp', 40001, '192.168.0.9')])), [
      'add tcp/40001 -> 192.168.0.9:10053 (worker w1): target 192.168.0.9 is outside the private network 10.9.0.0/24',
    ]);
  });
});

describe('nftables worker backend: diffs', () => {
  it('an empty diff is no command at all', () => {
    assert.deepEqual(renderNftWorkersDiff(SETUP, { add: [], remove: [] }), []);
  });

  it('removes (by key, from the map and every counted set) before it adds, one complete command per line', () => {
    const lines = renderNftWorkersDiff(SETUP, {
      add: [lease('tcp', 40001, '10.9.0.12', 10053)],
      remove: [lease('tcp', 40001), lease('udp', 40007)],
    });
    assert.deepEqual(lines, [
      'delete element ip realmgw_workers leases { tcp . 40001, udp . 40007 }',
      'delete element ip realmgw_workers conns { tcp . 40001, udp . 40007 }',
      'delete element ip realmgw_workers traffic_in { tcp . 40001, udp . 40007 }',
      'delete element ip realmgw_workers traffic_out { tcp . 40001, udp . 40007 }',
      'add element ip realmgw_workers leases { tcp . 40001 : 10.9.0.12 . 10053 }',
      'add element ip realmgw_workers conns { tcp . 40001 }',
      'add element ip realmgw_workers traffic_in { tcp . 40001 }',
      'add element ip realmgw_workers traffic_out { tcp . 40001 }',
    ]);
  });

  it('costs four element commands for five leases of one worker, whatever is already mapped', () => {
    const five = [40001, 40002, 40003, 40004, 40005].map((p) => lease('tcp', p));
    assert.equal(renderNftWorkersDiff(SETUP, { add: five, remove: [] }).length, 4);
  });

  it('refuses, with a reason per lease, what it must never map', () => {
    const bad = [
      lease('tcp', 40001, '100.64.1.7'),
      lease('tcp', 40002, '10.9.0.1'),
      lease('tcp', 40003, '10.9.0.300'),
      lease('tcp', 0),
      lease('tcp', 40004, '10.9.0.10', 70000),
      { ...lease('tcp', 40005), protocol: 'sctp' } as unknown as Lease,
    ];
    assert.deepEqual(diffProblems(SETUP, { add: bad, remove: [] }), [
      'add tcp/40001 -> 100.64.1.7:10053 (worker w1): target 100.64.1.7 is outside the private network 10.9.0.0/24',
      "add tcp/40002 -> 10.9.0.1:10053 (worker w1): target 10.9.0.1 is the gateway's own private address",
      'add tcp/40003 -> 10.9.0.300:10053 (worker w1): target "10.9.0.300" is not an IPv4 address',
      'add tcp/0 -> 10.9.0.10:10053 (worker w1): public port 0 is not a port (1-65535)',
      'add tcp/40004 -> 10.9.0.10:70000 (worker w1): target port 70000 is not a port (1-65535)',
      'add sctp/40005 -> 10.9.0.10:10053 (worker w1): protocol "sctp" is not tcp or udp',
    ]);
    assert.equal(refusal(() => renderNftWorkersDiff(SETUP, { add: bad, remove: [] })).length, bad.length);
  });

  it('refuses a public key twice in the adds or twice in the removes, but not one key leaving and returning', () => {
    assert.deepEqual(diffProblems(SETUP, { add: [lease('tcp', 40001), lease('tcp', 40001, '10.9.0.11', 22, 'w2')], remove: [] }), [
      'add tcp/40001 -> 10.9.0.11:22 (worker w2): tcp/40001 appears twice',
    ]);
    assert.equal(diffProblems(SETUP, { add: [], remove: [lease('udp', 40001), lease('udp', 40001)] }).length, 1);
    assert.deepEqual(diffProblems(SETUP, { add: [lease('tcp', 40001, '10.9.0.11')], remove: [lease('tcp', 40001)] }), []);
    assert.deepEqual(diffProblems(SETUP, { add: [lease('tcp', 40001)], remove: [] }).length, 0);
    assert.deepEqual(diffProblems(SETUP, { add: [lease('tcp', 40001), lease('udp', 40001)], remove: [] }), [], 'tcp and udp keys differ');
  });

  it('removes by key alone, so a removal is not refused for its (old) target', () => {
    assert.deepEqual(diffProblems(SETUP, { add: [], remove: [lease('tcp', 40001, '172.16.0.1')] }), []);
  });
});
