// Both workers' mapping backends against the in-memory fake kernel (no root, no IPVS): start over leftovers,
// diffs all or nothing, counters, stop and cleanup, bystanders untouched; and WorkersService group-committing
// registrations through the nftables backend. The real kernel (nft-backend.test.ts) and a real IPVS
// (ipvs-backend.test.ts, user-mode Linux) remain the final proof.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import { runChecked } from '../../src/dataplane/runner.js';
import { IpvsBackend } from '../../src/workers/backends/ipvs-backend.js';
import { NftMappingBackend, cleanupNftWorkers } from '../../src/workers/backends/nft-backend.js';
import { makeLease, type Lease } from '../../src/workers/lease.js';
import { WorkersService } from '../../src/workers/service.js';
import { FakeKernel } from '../support/fake-kernel/index.js';
import { makeTempDir } from '../support/repo.js';
import { memoryLogger } from '../stun/support.js';
import { makeConfig, secretOf, seededRandom, TCP_10053, UDP_10053 } from './support.js';

const SCOPE = { publicAddress: '100.64.9.1', privateAddress: '10.9.0.1', privateNetwork: '10.9.0.0/24' };
const tcp = makeLease('w1', { port: 10053, protocol: 'tcp' }, 30010, '10.9.0.2');
const udp = makeLease('w1', { port: 10053, protocol: 'udp' }, 30011, '10.9.0.2');
const other = makeLease('w2', { port: 22, protocol: 'tcp' }, 30012, '10.9.0.3');

let kernel: FakeKernel;
beforeEach(() => {
  kernel = new FakeKernel();
});

const sh = async (tool: string, args: string[], input?: string) => (await runChecked(kernel, tool, args, { input })).stdout;
const transactions = () => kernel.calls.filter((c) => c.tool === 'libnftables');

describe('nftables backend on the fake kernel', () => {
  const BYSTANDER = 'table ip bystander {\n\tset keep { type ipv4_addr; elements = { 192.0.2.1 } }\n}\n';
  const backend = () => new NftMappingBackend({ ...SCOPE, runner: kernel });
  const leases = async () => /map leases \{[^}]*?(?:elements = \{ ([^}]*) \})?\n\t\}/.exec(await sh('nft', ['list', 'table', 'ip', 'realmgw_workers']))?.[1] ?? '';

  beforeEach(async () => {
    await sh('nft', ['-f', '-'], BYSTANDER);
  });

  it('start replaces what a killed run left with exactly the restored leases', async () => {
    const killed = backend();
    await killed.start([tcp, other]); // never stopped
    const b = backend();
    await b.start([udp]);
    assert.equal(await leases(), 'udp . 30011 : 10.9.0.2 . 10053');
    const fresh = new FakeKernel();
    await runChecked(fresh, 'nft', ['-f', '-'], { input: BYSTANDER });
    await new NftMappingBackend({ ...SCOPE, runner: fresh }).start([udp]);
    assert.equal(kernel.nft.dump(), fresh.nft.dump(), 'no trace of the killed run');
    await b.stop();
  });

  it('a diff is one transaction, all or nothing; removed leases lose their conntrack entries', async () => {
    const b = backend();
    await b.start([tcp]);
    await b.apply({ add: [udp, other], remove: [] });
    assert.equal(transactions().length, 1);
    assert.equal(await leases(), 'tcp . 30010 : 10.9.0.2 . 10053, tcp . 30012 : 10.9.0.3 . 22, udp . 30011 : 10.9.0.2 . 10053');

    // removing a lease that is not mapped: the kernel refuses the delete, so the add in it does not happen either
    const before = kernel.dump();
    const ghost = makeLease('w3', { port: 80, protocol: 'tcp' }, 30013, '10.9.0.4');
    await assert.rejects(b.apply({ add: [makeLease('w3', { port: 80, protocol: 'udp' }, 30014, '10.9.0.4')], remove: [ghost] }), /No such file or directory/);
    assert.equal(kernel.dump(), before);

    await b.apply({ add: [], remove: [other] });
    assert.equal(await leases(), 'tcp . 30010 : 10.9.0.2 . 10053, udp . 30011 : 10.9.0.2 . 10053');
    assert.deepEqual(kernel.calls.filter((c) => c.tool === 'conntrack').map((c) => c.args.join(' ')), ['-D -p tcp --orig-dst 100.64.9.1 --orig-port-dst 30012']);
    await b.stop();
  });

  it('counters name every mapped lease (the fake counts nothing)', async () => {
    const b = backend();
    await b.start([tcp, udp]);
    const counters = await b.counters();
    assert.deepEqual([...counters.keys()].sort(), ['tcp/30010', 'udp/30011']);
    assert.deepEqual(counters.get('tcp/30010'), { connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 });
    await b.stop();
  });

  it('a failed start leaves nothing of ours, a leftover included; stop and cleanup remove only our table', async () => {
    await backend().start([tcp]); // a killed run's table
    kernel.failWhen((c) => c.tool === 'nft' && c.args.join(' ') === '-f -' && (c.input ?? '').includes('realmgw_workers {'));
    await assert.rejects(backend().start([udp]), /injected failure/);
    assert.deepEqual(kernel.nft.tableNames(), ['bystander']);

    const b = backend();
    await b.start([tcp]);
    await b.stop();
    assert.deepEqual(kernel.nft.tableNames(), ['bystander']);
    await backend().start([tcp]);
    assert.equal(await cleanupNftWorkers(kernel), true);
    assert.equal(await cleanupNftWorkers(kernel), false);
    assert.deepEqual(kernel.nft.tableNames(), ['bystander']);
  });
});

describe('IPVS backend on the fake kernel', () => {
  const PORTS = [30000, 30099] as const;
  const backend = () => new IpvsBackend({ ...SCOPE, ports: PORTS, runner: kernel });
  /** Services of others: each must survive everything. */
  const BYSTANDERS = [
    ['-A', '-t', '100.64.9.1:80', '-s', 'rr'],
    ['-A', '-t', '100.64.9.1:30050', '-s', 'rr'],
    ['-A', '-u', '10.77.0.1:30011', '-s', 'wrr'],
    ['-a', '-u', '10.77.0.1:30011', '-r', '10.9.0.2:10053', '-m', '-w', '100'],
  ];
  const ours = () => kernel.ipvs.save().split('\n').filter((l) => l.includes('100.64.9.1:300') && !l.includes(':30050'));
  const nat = () => kernel.iptables.iptables.save('nat').split('\n').filter((l) => l.includes('RGW_IPVS_SNAT'));

  beforeEach(async () => {
    for (const args of BYSTANDERS) await sh('ipvsadm', args);
  });

  it('drift: the SNAT jump or chain gone (a flushed ruleset) is found and put back; the services stay as they are', async () => {
    const b = backend();
    await b.start([tcp]);
    assert.deepEqual(await b.verify(), []);
    const services = kernel.ipvs.save();
    const snat = nat();
    await sh('iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-j', 'RGW_IPVS_SNAT']);
    assert.deepEqual((await b.verify()).map((d) => d.what), ['iptables -t nat jumps to RGW_IPVS_SNAT: 0, expected exactly one from POSTROUTING']);
    await sh('iptables', ['-t', 'nat', '-F', 'RGW_IPVS_SNAT']);
    await sh('iptables', ['-t', 'nat', '-X', 'RGW_IPVS_SNAT']);
    assert.deepEqual((await b.verify()).map((d) => d.what), ['iptables chain nat/RGW_IPVS_SNAT is missing', 'iptables -t nat jumps to RGW_IPVS_SNAT: 0, expected exactly one from POSTROUTING']);
    await b.repair();
    assert.deepEqual(await b.verify(), []);
    assert.deepEqual(nat(), snat);
    assert.equal(kernel.ipvs.save(), services);
    await b.stop();
  });

  it('start replaces leftovers, keeps what is already right, adds SNAT once and turns IPVS conntrack on; stop undoes all of it', async () => {
    const killed = backend();
    await killed.start([tcp, other]); // never stopped: its services and SNAT chain stay
    await sh('ipvsadm', ['-A', '-t', '100.64.9.1:30020', '-s', 'wrr']); // cut between -A and -a
    const bystanders = kernel.ipvs.save().split('\n').filter((l) => !ours().includes(l));

    kernel.sysctl.set('net.ipv4.vs.conntrack', '0');
    const b = backend();
    await b.start([tcp, udp]);
    assert.deepEqual(ours().sort(), [
      '-A -t 100.64.9.1:30010 -s wrr',
      '-A -u 100.64.9.1:30011 -s wrr',
      '-a -t 100.64.9.1:30010 -r 10.9.0.2:10053 -m -w 100',
      '-a -u 100.64.9.1:30011 -r 10.9.0.2:10053 -m -w 100',
    ]);
    assert.deepEqual(nat(), [
      ':RGW_IPVS_SNAT - [0:0]',
      '-A POSTROUTING -j RGW_IPVS_SNAT',
      '-A RGW_IPVS_SNAT -d 10.9.0.0/24 -m ipvs --vaddr 100.64.9.1/32 --vdir ORIGINAL --vmethod MASQ -m conntrack --ctorigdstport 30000:30099 -j SNAT --to-source 10.9.0.1',
    ]);
    assert.equal(kernel.sysctl.get('net.ipv4.vs.conntrack'), '1');
    const kept = kernel.calls.filter((c) => c.tool === 'ipvsadm' && c.args.includes('100.64.9.1:30010') && c.args[0] !== '-S');
    assert.equal(kept.length, 2, 'the leftover tcp lease was right as it was: only the killed run mapped it');

    await b.stop();
    assert.deepEqual(ours(), []);
    assert.deepEqual(nat(), []);
    assert.equal(kernel.sysctl.get('net.ipv4.vs.conntrack'), '0');
    assert.deepEqual(kernel.ipvs.save().split('\n'), bystanders);
  });

  it('a diff that fails part-way is rolled back step by step: IPVS holds what it held before', async () => {
    const b = backend();
    await b.start([tcp]);
    const before = kernel.dump();
    kernel.failWhen((c) => c.tool === 'ipvsadm' && c.args[0] === '-a' && c.args.includes('10.9.0.3:22'), { stderr: 'Memory allocation problem' });
    await assert.rejects(b.apply({ add: [udp, other], remove: [tcp] }), (e: unknown) => (e as { code?: string }).code === 'RGW_IPVS_APPLY' && /Memory allocation problem/.test((e as Error).message));
    assert.equal(kernel.dump(), before);
    assert.deepEqual([...b.leases.keys()], ['tcp/30010']);

    // a service of another shape sits on the port a lease wants: the kernel refuses, nothing changes
    await assert.rejects(b.apply({ add: [makeLease('w4', { port: 80, protocol: 'tcp' }, 30050, '10.9.0.4')], remove: [] }), /Service already exists/);
    assert.equal(kernel.dump(), before);
    await b.apply({ add: [udp], remove: [] });
    assert.deepEqual((await b.counters()).get('udp/30011'), { connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 });
    await b.stop();
  });

  it('a start that fails leaves nothing of ours', async () => {
    kernel.failWhen((c) => c.tool === 'iptables-restore');
    await assert.rejects(backend().start([tcp]), (e: unknown) => (e as { code?: string }).code === 'RGW_IPVS_APPLY');
    assert.deepEqual(ours(), []);
    assert.deepEqual(nat(), []);
    assert.equal(kernel.sysctl.get('net.ipv4.vs.conntrack'), '0');
  });
});

describe('WorkersService through the nftables backend on the fake kernel', () => {
  async function service(names: string[]) {
    const s = new WorkersService({
      config: makeConfig({ names, ports: [30000, 30999], quota: 4 }),
      backend: new NftMappingBackend({ ...SCOPE, runner: kernel }),
      stateFile: join(await makeTempDir('svc-fake'), 'state.json'),
      publicAddress: SCOPE.publicAddress,
      heartbeatMs: 1000,
      log: memoryLogger().logger,
      random: seededRandom(9),
      countersIntervalMs: 0,
    });
    await s.start();
    return s;
  }
  const mapped = (s: WorkersService): Lease[] => [...s.records().values()].flatMap((r) => r.leases);

  it('concurrent registrations share kernel transactions; every answer is a lease the kernel holds', async (t) => {
    const names = Array.from({ length: 12 }, (_, i) => `w${i}`);
    const s = await service(names);
    t.after(() => s.stop());
    const results = await Promise.all(names.map((n, i) => s.register(n, secretOf(n), { address: `10.9.0.${10 + i}` }, [TCP_10053, UDP_10053])));
    assert.ok(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
    assert.equal(transactions().length, 2, 'the first registration alone, then the eleven queued behind it in one');
    const table = await sh('nft', ['list', 'table', 'ip', 'realmgw_workers']);
    for (const l of mapped(s)) assert.ok(table.includes(`${l.protocol} . ${l.publicPort} : ${l.target.address} . ${l.target.port}`), `${l.protocol}/${l.publicPort} in the kernel`);
  });

  it('a change the kernel refuses inside a merged batch fails alone; the others are mapped', async (t) => {
    const names = ['a', 'b', 'c', 'd'];
    const s = await service(names);
    t.after(() => s.stop());
    // the kernel refuses every transaction that maps c's address (merged or alone)
    kernel.failWhen((c) => c.tool === 'libnftables' && (c.input ?? '').includes('10.9.0.12 '), { times: 2, stderr: 'Error: Could not process rule: Invalid argument' });
    const results = await Promise.all(names.map((n, i) => s.register(n, secretOf(n), { address: `10.9.0.${10 + i}` }, [TCP_10053])));
    assert.deepEqual(results.map((r) => (r.ok ? 'ok' : r.code)), ['ok', 'ok', 'backend-failed', 'ok']);
    assert.deepEqual([...s.records().keys()].sort(), ['a', 'b', 'd']);
    const table = await sh('nft', ['list', 'table', 'ip', 'realmgw_workers']);
    assert.ok(!table.includes('10.9.0.12 '), 'nothing of the refused change in the kernel');
  });

  it('drift: leases coming and going are not drift; the table flushed away is, and remap puts every lease back', async (t) => {
    const s = await service(['a', 'b']);
    t.after(() => s.stop());
    assert.ok((await s.register('a', secretOf('a'), { address: '10.9.0.10' }, [TCP_10053])).ok);
    assert.deepEqual(await s.verify(), []);
    const before = await sh('nft', ['list', 'table', 'ip', 'realmgw_workers']);
    await sh('nft', ['-f', '-'], 'delete table ip realmgw_workers\n');
    assert.deepEqual(await s.verify(), [{ part: 'workers', what: 'nft table ip realmgw_workers is missing' }]);
    await s.remap();
    assert.deepEqual(await s.verify(), []);
    assert.equal(await sh('nft', ['list', 'table', 'ip', 'realmgw_workers']), before, 'every lease mapped again');
    // changes after the remap go through the new table
    assert.ok((await s.register('b', secretOf('b'), { address: '10.9.0.11' }, [UDP_10053])).ok);
    assert.equal(mapped(s).length, 2);
    assert.deepEqual(await s.verify(), []);
  });
});
