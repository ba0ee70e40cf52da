// KernelState against the in-memory fake kernel (no root, no namespaces): install, reinstall over what a
// SIGKILLed realmgw left, rollback when a step fails, uninstall and cleanup, with foreign state that must
// survive all of it. test/dataplane/kernel-state.test.ts proves the same against the real kernel.
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/log.js';
import type { DataplaneModel } from '../../src/dataplane/model.js';
import { KernelState, KernelStateError } from '../../src/dataplane/kernel-state.js';
import { planInstall } from '../../src/dataplane/kernel-plan.js';
import type { FirewallFragment } from '../../src/dataplane/ruleset.js';
import { runChecked } from '../../src/dataplane/runner.js';
import { testbedModel } from '../support/dataplane-model.js';
import { FakeKernel, type FakeCall } from '../support/fake-kernel/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {} } as unknown as Logger;

const FIREWALL: FirewallFragment = {
  filter: ':RGW-FWT - [0:0]\n-A RGW-FWT -m set --match-set rgw-g-G2 src -p udp -m udp --dport 9 -j DROP\n',
  jumps: ['-j RGW-FWT'],
};

const QUEUE_JUMP = '-m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set rgw-pool dst -j RGW-QUEUE';

let kernel: FakeKernel;
let foreignBefore: string;

const state = (model: DataplaneModel = testbedModel(), firewall: FirewallFragment | undefined = FIREWALL) => new KernelState(model, quiet, { runner: kernel, firewall });

const sh = async (tool: string, args: string[], input?: string) => (await runChecked(kernel, tool, args, { input })).stdout;

/** Everything of ours, as text that is easy to compare. */
async function ours(): Promise<{ table: boolean; iptables: string[]; ipsets: string[] }> {
  return {
    table: (await sh('nft', ['list', 'tables'])).split('\n').includes('table ip realmgw'),
    iptables: (await sh('iptables-save', [])).split('\n').filter((l) => l.includes('RGW-')).sort(),
    ipsets: (await sh('ipset', ['list', '-n'])).split('\n').filter((n) => n.startsWith('rgw-')).sort(),
  };
}

/** Everything not ours: the foreign table, iptables without our lines, the foreign ipset. */
async function foreign(): Promise<string> {
  const ipt = (await sh('iptables-save', [])).split('\n').filter((l) => !l.includes('RGW-'));
  return `${await sh('nft', ['list', 'table', 'ip', 'foreign'])}\n${ipt.join('\n')}\n${await sh('ipset', ['list', 'foreign-set'])}`;
}

async function assertNothingOfOurs(): Promise<void> {
  assert.deepEqual(await ours(), { table: false, iptables: [], ipsets: [] });
  assert.equal(await foreign(), foreignBefore, 'foreign state intact');
}

beforeEach(async () => {
  kernel = new FakeKernel();
  await sh('nft', ['-f', '-'], 'table ip foreign {\n\tset s { type ipv4_addr; elements = { 10.1.2.3 } }\n\tchain c { type filter hook forward priority 5; policy accept; ip saddr @s drop; }\n}\n');
  await sh('ipset', ['restore'], 'create foreign-set hash:ip\nadd foreign-set 10.1.2.3\n');
  await sh('iptables-restore', ['--noflush'], '*filter\n:FOREIGN-CHAIN - [0:0]\n-A FOREIGN-CHAIN -j RETURN\n-A FORWARD -s 10.9.9.9/32 -m set --match-set foreign-set src -j DROP\nCOMMIT\n*mangle\n-A PREROUTING -s 10.9.9.8/32 -j MARK --set-mark 7\nCOMMIT\n');
  foreignBefore = await foreign();
});

const EXPECTED_IPTABLES = [
  ':RGW-QUEUE - [0:0]',
  ':RGW-HANDSHAKE - [0:0]',
  `-A PREROUTING ${QUEUE_JUMP}`,
  '-A PREROUTING -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
  '-A RGW-HANDSHAKE -j MARK --set-xmark 0x52470000/0xffffffff',
  '-A RGW-HANDSHAKE -j NFQUEUE --queue-num 1',
  '-A RGW-QUEUE -j NFQUEUE --queue-num 1',
  ':RGW-FWT - [0:0]',
  '-A FORWARD -j RGW-FWT',
  '-A RGW-FWT -m set --match-set rgw-g-G2 src -p udp -m udp --dport 9 -j DROP',
].sort();

describe('KernelState against the fake kernel', () => {
  it('install puts exactly our state in place, jumps at the top of their builtin chains', async () => {
    await state().install();
    assert.deepEqual(await ours(), { table: true, iptables: EXPECTED_IPTABLES, ipsets: ['rgw-g-G1', 'rgw-g-G2', 'rgw-pool'] });
    const table = await sh('nft', ['list', 'table', 'ip', 'realmgw']);
    assert.match(table, /elements = \{ 100\.64\.1\.131-100\.64\.1\.133 \}/);
    assert.match(table, /elements = \{ 0x52470001 : 192\.168\.0\.100, 0x52470002 : 192\.168\.0\.101 \}/);
    const forward = (await sh('iptables-save', ['-t', 'filter'])).split('\n').filter((l) => l.startsWith('-A FORWARD'));
    assert.deepEqual(forward, ['-A FORWARD -j RGW-FWT', '-A FORWARD -s 10.9.9.9/32 -m set --match-set foreign-set src -j DROP']);
    assert.match(await sh('ipset', ['list', 'rgw-pool']), /Type: hash:net\n[^]*Members:\n100\.64\.1\.131\n100\.64\.1\.132\/31\n$/);
    assert.equal(await foreign(), foreignBefore);
  });

  it('install again, and over what a SIGKILLed realmgw left (plus stale extras): exactly one copy', async () => {
    await state().install();
    const expected = kernel.dump();
    await state().install();
    assert.equal(kernel.dump(), expected, 'second install');

    // a killed realmgw never uninstalls; an earlier version could also have left a duplicate jump, a stale
    // chain with a jump to it and a stale ipset
    await sh('iptables', ['-t', 'mangle', '-A', 'PREROUTING', ...QUEUE_JUMP.split(' ')]);
    await sh('iptables-restore', ['--noflush'], '*filter\n:RGW-OLD - [0:0]\n-A RGW-OLD -j RETURN\n-I FORWARD 2 -j RGW-OLD\nCOMMIT\n');
    await sh('ipset', ['create', 'rgw-g-old', 'hash:ip']);
    await state().install();
    assert.equal(kernel.dump(), expected, 'after leftovers');
    assert.equal(await foreign(), foreignBefore);
  });

  it('an ipset of ours left with another type is removed first, then installed as wanted', async () => {
    await sh('ipset', ['create', 'rgw-pool', 'hash:ip']);
    await state().install();
    assert.match(await sh('ipset', ['list', '-t']), /Name: rgw-pool\nType: hash:net/);
    assert.equal((await ours()).iptables.length, EXPECTED_IPTABLES.length);
  });

  it('a ruleset the dry run refuses changes nothing, not even a running state', async () => {
    await state().install();
    const before = kernel.dump();
    await assert.rejects(state(testbedModel({ lanNetwork: '192.168.0.0/33' })).install(), (e: unknown) => e instanceof KernelStateError && e.step === 'validate');
    assert.equal(kernel.dump(), before);
  });

  for (const [step, fails] of [
    ['ipsets', (c: FakeCall) => c.tool === 'ipset' && c.args[0] === 'restore'],
    ['nft', (c: FakeCall) => c.tool === 'nft' && c.args.join(' ') === '-f -'],
    ['iptables', (c: FakeCall) => c.tool === 'iptables-restore'],
  ] as const) {
    it(`a failing ${step} step leaves nothing of ours, leftovers it was replacing included`, async () => {
      await state().install(); // what a killed run left
      kernel.failWhen(fails, { stderr: `${step} broke` });
      await assert.rejects(state().install(), (e: unknown) => {
        assert.ok(e instanceof KernelStateError, String(e));
        assert.equal(e.step, step);
        assert.match(e.message, new RegExp(`${step} broke`));
        assert.ok(e.removed.includes('nft delete table ip realmgw'), e.removed.join('\n'));
        return true;
      });
      await assertNothingOfOurs();
    });
  }

  it('a rule the kernel refuses (a set that does not exist) rolls back what the install added', async () => {
    const broken: FirewallFragment = { filter: ':RGW-FWT - [0:0]\n-A RGW-FWT -m set --match-set rgw-no-such-set src -j DROP\n', jumps: ['-j RGW-FWT'] };
    await assert.rejects(state(testbedModel(), broken).install(), (e: unknown) => {
      assert.ok(e instanceof KernelStateError, String(e));
      assert.equal(e.step, 'iptables');
      assert.match(e.message, /Set rgw-no-such-set doesn't exist/);
      assert.ok(e.removed.includes('ipset destroy rgw-pool'), e.removed.join('\n'));
      return true;
    });
    await assertNothingOfOurs();
  });

  it('a tool the ruleset needs is missing: refused at the survey, nothing changed', async () => {
    kernel.missing.add('ipset');
    await assert.rejects(state().install(), (e: unknown) => e instanceof KernelStateError && e.step === 'survey' && /ipset tool is not installed/.test(e.message));
    kernel.missing.clear();
    await assertNothingOfOurs();
  });

  it('uninstall removes our table, chains, jumps and ipsets, and nothing else; idempotent', async () => {
    const ks = state(testbedModel({ confirm: 'nftset' }));
    await ks.install();
    assert.deepEqual((await ours()).ipsets, ['rgw-g-G1', 'rgw-g-G2']);
    await ks.uninstall();
    await assertNothingOfOurs();
    await ks.uninstall();
    await assertNothingOfOurs();
  });

  it('cleanup removes everything of ours by name and says what it removed', async () => {
    await state().install();
    const { removed } = await KernelState.cleanup({ table: 'realmgw', prefix: 'RGW', runner: kernel });
    assert.deepEqual(removed.sort(), [
      'ipset destroy rgw-g-G1',
      'ipset destroy rgw-g-G2',
      'ipset destroy rgw-pool',
      'iptables -t filter -D FORWARD -j RGW-FWT',
      'iptables -t filter -X RGW-FWT',
      `iptables -t mangle -D PREROUTING ${QUEUE_JUMP}`,
      'iptables -t mangle -D PREROUTING -p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark 0x1000000/0xf000000 -m set --match-set rgw-pool dst -j RGW-HANDSHAKE',
      'iptables -t mangle -X RGW-HANDSHAKE',
      'iptables -t mangle -X RGW-QUEUE',
      'nft delete table ip realmgw',
    ]);
    await assertNothingOfOurs();
    assert.deepEqual(await KernelState.cleanup({ table: 'realmgw', prefix: 'RGW', runner: kernel }), { removed: [] });
  });

  it('cleanup reports what it could not remove after trying everything else', async () => {
    await state().install();
    // somebody else's rule uses our ipset: the kernel refuses to destroy it
    await sh('iptables', ['-A', 'FOREIGN-CHAIN', '-m', 'set', '--match-set', 'rgw-g-G1', 'src', '-j', 'RETURN']);
    await assert.rejects(KernelState.cleanup({ table: 'realmgw', prefix: 'RGW', runner: kernel }), (e: unknown) => {
      assert.ok(e instanceof KernelStateError);
      assert.match(e.message, /ipset destroy rgw-g-G1: .*in use/);
      assert.ok(e.removed.includes('nft delete table ip realmgw') && e.removed.includes('ipset destroy rgw-pool'));
      return true;
    });
    assert.deepEqual((await ours()).ipsets, ['rgw-g-G1']);
  });
});

describe('planInstall (pure)', () => {
  it('names the leftovers it replaces, the mismatched and stale ipsets, and the iptables changes', () => {
    const r = state().render();
    const saved = [{ name: 'mangle', chains: new Map([['PREROUTING', true], ['RGW-QUEUE', false], ['RGW-OLD', false]]), rules: [{ chain: 'PREROUTING', spec: QUEUE_JUMP }, { chain: 'PREROUTING', spec: QUEUE_JUMP }] }];
    const plan = planInstall({ ipsets: new Map([['rgw-pool', 'hash:ip'], ['rgw-g-old', 'hash:ip'], ['other', 'hash:ip']]), iptables: saved, table: true }, r, { table: 'realmgw', prefix: 'RGW' });
    assert.deepEqual(plan.leftovers, ['nft table ip realmgw', 'iptables chain mangle/RGW-QUEUE', 'iptables chain mangle/RGW-OLD', 'ipset rgw-pool', 'ipset rgw-g-old']);
    assert.deepEqual(plan.mismatched, ['rgw-pool']);
    assert.deepEqual(plan.staleIpsets, ['rgw-g-old']);
    // both copies of the duplicated jump go, and one comes back at the top
    assert.deepEqual(plan.iptables.removes, [`iptables -t mangle -D PREROUTING ${QUEUE_JUMP}`, `iptables -t mangle -D PREROUTING ${QUEUE_JUMP}`, 'iptables -t mangle -X RGW-OLD']);
    assert.ok(plan.iptables.inserts.includes(`iptables -t mangle -I PREROUTING 1 ${QUEUE_JUMP}`));
  });
});
