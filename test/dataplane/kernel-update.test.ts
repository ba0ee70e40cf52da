// The reload's in-place nft transaction (kernel-update.ts) and KernelState.update against the fake kernel:
// never a delete of the table, run-time elements and counters kept, and the result is what a fresh install
// of the new model would hold (plus those run-time elements).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/log.js';
import type { DataplaneModel } from '../../src/dataplane/model.js';
import type { StaticForward } from '../../src/forwards/model.js';
import { KernelState, KernelStateError } from '../../src/dataplane/kernel-state.js';
import { isDynamic, nftObjects, renderNftUpdate } from '../../src/dataplane/kernel-update.js';
import { renderNft, renderRuleset } from '../../src/dataplane/ruleset.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { runChecked } from '../../src/dataplane/runner.js';
import { testbedModel } from '../support/dataplane-model.js';
import { FakeKernel } from '../support/fake-kernel/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child: () => quiet } as unknown as Logger;

const forward = (name: string, port: number): StaticForward => ({
  name,
  protocol: 'tcp',
  address: parseIpv4('100.64.1.130'),
  first: port,
  last: port,
  toAddress: parseIpv4('192.168.0.100'),
  toPort: 22,
  allowFrom: [],
});

const nftset = (over: Partial<DataplaneModel> = {}) => testbedModel({ confirm: 'nftset', forwards: [forward('ssh', 2222)], ...over });

describe('renderNftUpdate (pure)', () => {
  it('reads every object of the rendered table; only timeout/dynamic sets count as run-time', () => {
    const objects = nftObjects(renderNft(nftset()));
    const dynamic = objects.filter(isDynamic).map((o) => o.name).sort();
    assert.deepEqual(dynamic, ['bind_any', 'bind_anyport', 'bind_anyproto', 'bind_exact', 'dnat_any', 'dnat_anyport', 'dnat_anyproto', 'dnat_exact', 'pend_any', 'pend_anyport', 'pend_anyproto', 'pend_exact', 'pendb_any', 'pendb_anyport', 'pendb_anyproto', 'pendb_exact']);
    assert.ok(objects.some((o) => o.kind === 'set' && o.name === 'pool' && !isDynamic(o)));
    assert.deepEqual(objects.filter((o) => o.kind === 'counter').map((o) => o.name), ['fwd_ssh_new', 'fwd_ssh_traffic', 'stolen', 'handshake']);
  });

  it('the same ruleset needs no transaction', () => {
    assert.deepEqual(renderNftUpdate('realmgw', renderNft(nftset()), renderNft(nftset())), { text: '', operations: [] });
  });

  it('a forward added and one removed: chains flushed and refilled, counters of the kept forward untouched, no table delete', () => {
    const before = renderNft(nftset({ forwards: [forward('ssh', 2222), forward('old', 2223)] }));
    const after = renderNft(nftset({ forwards: [forward('ssh', 2222), forward('web', 8080)] }));
    const u = renderNftUpdate('realmgw', before, after);
    assert.doesNotMatch(u.text, /delete table/);
    assert.doesNotMatch(u.text, /(flush|delete) set ip realmgw (pend|dnat|bind)/, 'reservation sets untouched');
    assert.doesNotMatch(u.operations.join('\n'), /fwd_ssh_/, 'the kept forward keeps its counters');
    assert.ok(u.operations.includes('add counter fwd_web_new') && u.operations.includes('delete counter fwd_old_new'));
    assert.ok(u.operations.includes('flush chain prerouting') && u.operations.includes('refill set pool'));
    // vanished objects are deleted after every chain was flushed (no rule still names them)
    const lines = u.text.split('\n');
    const lastFlush = lines.map((l, i) => (l.startsWith('flush chain') ? i : -1)).reduce((a, b) => Math.max(a, b));
    assert.ok(lines.findIndex((l) => l.startsWith('delete counter')) > lastFlush);
  });

  it('a run-time set whose declaration changed cannot be updated in place', () => {
    const before = renderNft(nftset());
    const after = renderNft(nftset({ poolAddresses: Array.from({ length: 70_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) }));
    assert.throws(() => renderNftUpdate('realmgw', before, after), /pend_exact holds run-time elements and its declaration changed/);
  });
});

describe('KernelState.update (fake kernel)', () => {
  const sh = async (k: FakeKernel, tool: string, args: string[], input?: string) => (await runChecked(k, tool, args, { input })).stdout;

  for (const confirm of ['nftset', 'nfqueue'] as const) {
    it(`${confirm}: one nft transaction, no table delete; run-time elements kept; the rest as a fresh install`, async () => {
      const kernel = new FakeKernel();
      const old = testbedModel({ confirm, forwards: [forward('ssh', 2222), forward('old', 2223)] });
      const next = testbedModel({
        confirm,
        unmatched: 'drop',
        forwards: [forward('ssh', 2222), forward('web', 8080)],
        hosts: [...old.hosts, { id: 'hostc.gwa.demo', ipv4: '192.168.0.102', markIndex: 3, groups: ['G3'], firewall: { admin: [], user: [] } }],
        groups: new Map([...old.groups, ['G3', ['192.168.0.102']]]),
      });
      const state = new KernelState(old, quiet, { runner: kernel });
      await state.install();
      if (confirm === 'nftset') await sh(kernel, 'nft', ['-f', '-'], 'add element ip realmgw pend_exact { 100.64.1.131 . tcp . 22 }\nadd element ip realmgw dnat_exact { 100.64.1.131 . tcp . 22 : 192.168.0.100 }\n');
      const runtime = confirm === 'nftset' ? kernel.nft.tables.get('realmgw')!.sets.get('pend_exact')!.elements.size : 0;
      const first = kernel.calls.length;
      const ops = await state.update({ model: next, ruleset: renderRuleset(next) });
      const calls = kernel.calls.slice(first);
      const applied = calls.filter((c) => c.tool === 'nft' && c.args.join(' ') === '-f -');
      assert.equal(applied.length, 1, 'one transaction');
      assert.doesNotMatch(applied[0]!.input!, /delete table/);
      assert.ok(ops.includes('add counter fwd_web_new'));
      assert.equal(state.model, next);

      const fresh = new FakeKernel();
      await new KernelState(next, quiet, { runner: fresh }).install();
      const t = kernel.nft.tables.get('realmgw')!;
      if (confirm === 'nftset') {
        assert.equal(t.sets.get('pend_exact')!.elements.size, runtime, 'the pending reservation survived');
        assert.equal(t.sets.get('dnat_exact')!.elements.size, 1);
        t.sets.get('pend_exact')!.elements.clear();
        t.sets.get('dnat_exact')!.elements.clear();
      }
      const sorted = (k: FakeKernel) => {
        const tb = k.nft.tables.get('realmgw')!;
        return { sets: [...tb.sets.keys()].sort().map((n) => [n, [...tb.sets.get(n)!.elements].sort()]), counters: [...tb.counters].sort(), chains: [...tb.chains.keys()].sort().map((n) => [n, tb.chains.get(n)]) };
      };
      assert.deepEqual(sorted(kernel), sorted(fresh));
      assert.equal(await sh(kernel, 'iptables-save', []), await sh(fresh, 'iptables-save', []), 'iptables as a fresh install: no duplicated jump');
      assert.deepEqual((await sh(kernel, 'ipset', ['list', '-n'])).split('\n').sort(), (await sh(fresh, 'ipset', ['list', '-n'])).split('\n').sort());
    });
  }

  it('a failing nft transaction changes nothing at all (ipsets and iptables come after it)', async () => {
    const kernel = new FakeKernel();
    const old = testbedModel();
    const state = new KernelState(old, quiet, { runner: kernel });
    await state.install();
    const dump = async () => `${kernel.dump()}\n${await sh(kernel, 'iptables-save', [])}\n${(await Promise.all(['rgw-g-G1', 'rgw-g-G2'].map((n) => sh(kernel, 'ipset', ['list', n])))).join('')}`;
    const before = await dump();
    const next = testbedModel({ groups: new Map([['G1', ['192.168.0.100']], ['G2', ['192.168.0.101']]]), unmatched: 'drop' });
    kernel.failWhen((c) => c.tool === 'nft' && c.args.join(' ') === '-f -');
    await assert.rejects(state.update({ model: next, ruleset: renderRuleset(next) }), (e: unknown) => e instanceof KernelStateError && e.step === 'nft');
    assert.equal(await dump(), before);
    assert.equal(state.model, old, 'still the installed model');
  });

  it('when a step after the nft transaction fails, the next update starts from the table as it now is', async () => {
    const kernel = new FakeKernel();
    const state = new KernelState(nftset({ forwards: [forward('ssh', 2222), forward('old', 2223)] }), quiet, { runner: kernel });
    await state.install();
    const next = nftset({ forwards: [forward('ssh', 2222)], groups: new Map([['G1', ['192.168.0.100']]]) });
    kernel.failWhen((c) => c.tool === 'ipset' && c.args[0] === 'restore');
    await assert.rejects(state.update({ model: next, ruleset: renderRuleset(next) }), (e: unknown) => e instanceof KernelStateError && e.step === 'ipsets');
    assert.ok(!kernel.nft.tables.get('realmgw')!.counters.has('fwd_old_new'), 'the nft part was applied');
    await state.update({ model: next, ruleset: renderRuleset(next) });
    const fresh = new FakeKernel();
    await new KernelState(next, quiet, { runner: fresh }).install();
    assert.equal(await sh(kernel, 'iptables-save', []), await sh(fresh, 'iptables-save', []));
    assert.equal(await sh(kernel, 'ipset', ['list', 'rgw-g-G1']), await sh(fresh, 'ipset', ['list', 'rgw-g-G1']));
  });

  it('a change that cannot be made in place changes nothing and names the step', async () => {
    const kernel = new FakeKernel();
    const state = new KernelState(nftset(), quiet, { runner: kernel });
    await state.install();
    const before = kernel.dump();
    const next = nftset({ poolAddresses: Array.from({ length: 70_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) });
    await assert.rejects(state.update({ model: next, ruleset: renderRuleset(next) }), (e: unknown) => e instanceof KernelStateError && e.step === 'render');
    assert.equal(kernel.dump(), before);
  });
});
