// KernelState.update against the real kernel (a scratch namespace): the in-place transaction nft accepts,
// the table keeps its handle, a pending reservation element survives (counters' counts: test/e2e/reload),
// and what remains is what a fresh install of the new model holds; iptables keeps exactly one jump each.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/log.js';
import type { StaticForward } from '../../src/forwards/model.js';
import { KernelState } from '../../src/dataplane/kernel-state.js';
import { renderRuleset } from '../../src/dataplane/ruleset.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { testbedModel } from '../support/dataplane-model.js';
import { kernelTestSkip, ScratchNamespaces } from '../support/scratch-ns.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {} } as unknown as Logger;
const skip = kernelTestSkip(['/usr/sbin/nft', '/usr/sbin/iptables', '/usr/sbin/ipset'], 'nft, iptables and ipset');

const forward = (name: string, port: number): StaticForward => ({
  name, protocol: 'tcp', address: parseIpv4('100.64.1.130'), first: port, last: port, toAddress: parseIpv4('192.168.0.100'), toPort: 22, allowFrom: [],
});

let scratch: ScratchNamespaces;
let ns: string;
before(async () => {
  if (skip) return;
  scratch = new ScratchNamespaces();
  ns = await scratch.add('gw');
});
after(() => scratch?.down());

const sh = async (script: string) => {
  const r = await scratch.exec('gw', 'sh', ['-c', script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};
/** Our table without counter values and element countdowns, objects sorted (a kept counter stays where it was). */
const table = async () => {
  const text = (await sh('nft -s list table ip realmgw')).replace(/ expires \S+/g, '');
  const blocks = text.split(/\n(?=\t(?:set|map|counter|chain) )/).map((b) => b.trim());
  return blocks.sort().join('\n');
};

for (const confirm of ['nftset', 'nfqueue'] as const) {
  it(`${confirm}: a reload's update keeps the table and its run-time elements; the rest is a fresh install's`, { skip }, async () => {
    const old = testbedModel({ confirm, forwards: [forward('ssh', 2222), forward('old', 2223)] });
    const next = testbedModel({ confirm, unmatched: 'drop', forwards: [forward('ssh', 2222), forward('web', 8080)], groups: new Map([['G1', ['192.168.0.100']]]) });
    const state = new KernelState(old, quiet, { netns: ns });
    await state.install();
    if (confirm === 'nftset') await sh("nft add element ip realmgw pend_exact '{ 100.64.1.131 . tcp . 22 timeout 10m }'");
    const handle = /# handle (\d+)/.exec(await sh('nft -a list table ip realmgw'))![1];
    await state.update({ model: next, ruleset: renderRuleset(next) });
    assert.equal(/# handle (\d+)/.exec(await sh('nft -a list table ip realmgw'))![1], handle, 'the same table');
    const updated = await table();
    const iptables = (await sh('iptables-save')).split('\n').filter((l) => l.includes('RGW')).sort();
    const ipsets = await sh('ipset list -n');
    if (confirm === 'nftset') assert.match(updated, /elements = \{ 100\.64\.1\.131 \. tcp \. 22 timeout 10m \}/, 'the pending reservation survived');
    await state.uninstall();
    await new KernelState(next, quiet, { netns: ns }).install();
    const fresh = await table();
    assert.equal(updated.replace(/\n\t*elements = \{ 100\.64\.1\.131 \. tcp \. 22 timeout 10m \}/, ''), fresh);
    assert.deepEqual(iptables, (await sh('iptables-save')).split('\n').filter((l) => l.includes('RGW')).sort(), 'iptables as a fresh install: one jump each');
    assert.equal(ipsets, await sh('ipset list -n'));
    await new KernelState(next, quiet, { netns: ns }).uninstall();
  });
}
