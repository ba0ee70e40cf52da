// Drift verification (kernel-verify.ts) against the in-memory fake kernel and hand-made listings: what counts as
// drift (table, chain, rule, jump, ipset, static elements, queue binding) and what never does (run-time set
// elements, counter values, handles, foreign tables). The real kernel's listing is proven in test/e2e/drift.test.ts.
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/log.js';
import type { DataplaneModel } from '../../src/dataplane/model.js';
import { KernelState } from '../../src/dataplane/kernel-state.js';
import { compareNft, compareQueue, describeDrift, netlinkPortIds, nftSnapshot, parseQueueBindings, type Drift } from '../../src/dataplane/kernel-verify.js';
import { runChecked } from '../../src/dataplane/runner.js';
import { testbedModel } from '../support/dataplane-model.js';
import { FakeKernel } from '../support/fake-kernel/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child() { return quiet; } } as unknown as Logger;

const QUEUE_JUMP = '-m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE';

let kernel: FakeKernel;
const sh = async (tool: string, args: string[], input?: string) => (await runChecked(kernel, tool, args, { input })).stdout;
const whats = (d: readonly Drift[]) => d.map((x) => x.what);

async function installed(model: DataplaneModel = testbedModel()): Promise<KernelState> {
  const state = new KernelState(model, quiet, { runner: kernel });
  await state.install();
  assert.deepEqual(await state.verify(), [], 'nothing drifted right after install');
  return state;
}

beforeEach(async () => {
  kernel = new FakeKernel();
  await sh('nft', ['-f', '-'], 'table ip foreign {\n\tset s { type ipv4_addr; elements = { 10.1.2.3 } }\n\tchain c { type filter hook forward priority 5; policy accept; ip saddr @s drop; }\n}\n');
});

describe('drift: what KernelState.verify reports (fake kernel)', () => {
  it('our table deleted by hand', async () => {
    const state = await installed();
    await sh('nft', ['-f', '-'], 'delete table ip realmgw\n');
    assert.deepEqual(whats(await state.verify()), ['nft table ip realmgw is missing']);
  });

  it('a chain missing, a rule changed, a chain added', async () => {
    const state = await installed();
    const t = kernel.nft.tables.get('realmgw')!;
    t.chains.delete('input');
    t.chains.get('forward')!.rules[0] = 'ip daddr @pool accept';
    t.chains.set('extra', { rules: [] });
    assert.deepEqual(whats(await state.verify()).sort(), [
      'nft chain extra (table ip realmgw) was not installed by realmgw',
      'nft chain forward (table ip realmgw): rule 1 differs from what was installed',
      'nft chain input (table ip realmgw) is missing',
    ]);
  });

  it('a rule added to a chain', async () => {
    const state = await installed();
    kernel.nft.tables.get('realmgw')!.chains.get('postrouting')!.rules.push('counter');
    assert.deepEqual(whats(await state.verify()), ['nft chain postrouting (table ip realmgw) has 2 rules, 1 installed']);
  });

  it('a jump from a builtin chain missing, then duplicated', async () => {
    const state = await installed();
    await sh('iptables', ['-t', 'mangle', '-D', 'PREROUTING', ...QUEUE_JUMP.split(' ')]);
    assert.deepEqual(whats(await state.verify()), [`iptables -t mangle '-A PREROUTING ${QUEUE_JUMP}': missing, expected exactly one`]);
    await sh('iptables', ['-t', 'mangle', '-A', 'PREROUTING', ...QUEUE_JUMP.split(' ')]);
    await sh('iptables', ['-t', 'mangle', '-A', 'PREROUTING', ...QUEUE_JUMP.split(' ')]);
    assert.deepEqual(whats(await state.verify()), [`iptables -t mangle '-A PREROUTING ${QUEUE_JUMP}': 2 copies, expected exactly one`]);
  });

  it('one of our iptables chains flushed', async () => {
    const state = await installed();
    await sh('iptables', ['-t', 'mangle', '-F', 'RGW-QUEUE']);
    assert.deepEqual(whats(await state.verify()), ['iptables chain mangle/RGW-QUEUE: rules differ from what was installed']);
  });

  it('an ipset destroyed', async () => {
    const state = await installed();
    await sh('ipset', ['destroy', 'rgw-g-G1']);
    assert.deepEqual(await state.verify(), [{ part: 'ipset', what: 'ipset rgw-g-G1 is missing' }]);
  });

  it('a static set element removed (the pool) is drift', async () => {
    const state = await installed();
    const pool = kernel.nft.tables.get('realmgw')!.sets.get('pool')!;
    pool.elements.clear();
    pool.elements.set('100.64.1.131-100.64.1.132', '');
    assert.deepEqual(whats(await state.verify()), ['nft elements of set pool (table ip realmgw) differs from what was installed']);
  });

  it('run-time elements (nftset reservations, bindings, DNAT maps) are never drift', async () => {
    const state = await installed(testbedModel({ confirm: 'nftset' }));
    await sh('nft', ['-f', '-'], [
      'add element ip realmgw pend_exact { 100.64.1.131 . tcp . 22 timeout 2s }',
      'add element ip realmgw dnat_exact { 100.64.1.131 . tcp . 22 timeout 4s : 192.168.0.100 }',
      'add element ip realmgw bind_any { 100.64.0.0-100.64.0.255 . 100.64.1.132 }',
      '',
    ].join('\n'));
    assert.deepEqual(await state.verify(), []);
  });

  it('foreign tables come and go without drift; repair leaves them as they are', async () => {
    const state = await installed();
    await sh('nft', ['-f', '-'], 'delete table ip foreign\ntable ip other {\n\tchain c {\n\t}\n}\n');
    assert.deepEqual(await state.verify(), []);
    await sh('nft', ['-f', '-'], 'delete table ip realmgw\n');
    const before = kernel.nft.listTable('other');
    await state.install({ repair: true });
    assert.deepEqual(await state.verify(), []);
    assert.equal(kernel.nft.listTable('other'), before);
  });

  it('repair after a flush of everything (Debian nftables.service) restores what verify compares', async () => {
    const state = await installed();
    for (const t of kernel.nft.tableNames()) await sh('nft', ['-f', '-'], `delete table ip ${t}\n`);
    await sh('iptables', ['-t', 'mangle', '-D', 'PREROUTING', ...QUEUE_JUMP.split(' ')]);
    assert.ok((await state.verify()).length >= 2);
    await state.install({ repair: true });
    assert.deepEqual(await state.verify(), []);
  });

  it('before any install, everything is missing', async () => {
    const state = new KernelState(testbedModel(), quiet, { runner: kernel });
    assert.deepEqual(whats(await state.verify()), ['kernel state not installed']);
  });
});

/** A listing as nft 1.0.6 prints it (trimmed), with handles, counter values and run-time elements (`pend`) to ignore. */
function listing(o: { handle: number; packets: number; pend: boolean; poolEnd?: string; rule?: string }): { terse: string; pool: string } {
  const pool = { family: 'ip', name: 'pool', table: 't1', type: 'ipv4_addr', handle: o.handle + 3, flags: ['interval'] };
  const terse = {
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 't1', handle: o.handle } },
      { counter: { family: 'ip', name: 'c', table: 't1', handle: o.handle + 2, packets: o.packets, bytes: o.packets * 60 } },
      { set: pool },
      {
        set: {
          family: 'ip', name: 'pend', table: 't1', type: ['ipv4_addr', 'inet_proto'], handle: o.handle + 4, size: 1000, flags: ['timeout'], 'gc-interval': 0,
          ...(o.pend ? { elem: [{ elem: { val: { concat: ['10.0.0.1', 'tcp'] }, timeout: 50, expires: 48 } }] } : {}),
        },
      },
      { chain: { family: 'ip', table: 't1', name: 'pre', handle: o.handle + 1, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      {
        rule: {
          family: 'ip',
          table: 't1',
          chain: 'pre',
          handle: o.handle + 6,
          expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@pool' } }, { counter: { packets: o.packets, bytes: 9 } }, { [o.rule ?? 'drop']: null }],
        },
      },
      { table: { family: 'ip', name: 'foreign', handle: 9 } },
      { chain: { family: 'ip', table: 'foreign', name: 'x', handle: o.handle } },
    ],
  };
  const poolList = { nftables: [{ metainfo: {} }, { set: { ...pool, elem: [{ range: ['10.0.0.1', o.poolEnd ?? '10.0.0.3'] }] } }] };
  return { terse: JSON.stringify(terse), pool: JSON.stringify(poolList) };
}

describe('drift: nft listings compared (hand-made, real nft JSON)', () => {
  const snap = (o: Parameters<typeof listing>[0]) => {
    const l = listing(o);
    return nftSnapshot('t1', l.terse, [l.pool]);
  };
  const base = snap({ handle: 1, packets: 0, pend: false });

  it('handles and counter values do not count; other tables are not looked at', () => {
    assert.deepEqual(compareNft('t1', base, snap({ handle: 40, packets: 123, pend: true })), []);
  });

  it('a changed verdict and a changed static element do', () => {
    assert.deepEqual(whats(compareNft('t1', base, snap({ handle: 1, packets: 0, pend: false, rule: 'accept' }))), ['nft chain pre (table ip t1): rule 1 differs from what was installed']);
    assert.deepEqual(whats(compareNft('t1', base, snap({ handle: 1, packets: 0, pend: false, poolEnd: '10.0.0.2' }))), ['nft elements of set pool (table ip t1) differs from what was installed']);
  });

  it('a table that is not there', () => {
    assert.deepEqual(compareNft('t1', base, undefined), [{ part: 'nft', what: 'nft table ip t1 is missing' }]);
  });
});

describe('drift: the NFQUEUE binding', () => {
  const proc = '    1  31337     0 2   128     0     0       12  1\n    7 -4242     0 2   128     0     0        0  1\n';
  const netlink = [
    'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode',
    '00000000683f0fce 12  31337      00000000 0        0        0     2        0        5001',
    '0000000021aacfac 12  -4242      00000000 0        0        0     2        0        5002',
  ].join('\n');

  it('reads bound queues and our sockets\' portids', () => {
    assert.deepEqual([...parseQueueBindings(proc)], [[1, 31337], [7, -4242]]);
    assert.deepEqual([...netlinkPortIds(netlink, new Set([5002]))], [-4242]);
  });

  it('bound by us: nothing; not bound, or bound by another process: drift', () => {
    const bindings = parseQueueBindings(proc);
    assert.deepEqual(compareQueue(1, bindings, new Set([31337])), []);
    assert.deepEqual(compareQueue(2, bindings, new Set([31337])), [{ part: 'nfqueue', what: 'nfqueue 2 is not bound' }]);
    assert.deepEqual(whats(compareQueue(7, bindings, new Set([31337]))), ['nfqueue 7 is bound by netlink portid -4242, not by this process']);
  });

  it('one line for the log names the first few', () => {
    const d: Drift[] = ['a', 'b', 'c', 'd', 'e'].map((what) => ({ part: 'nft', what }));
    assert.equal(describeDrift(d), 'a; b; c; and 2 more');
  });
});
