// The fake kernel itself: what it applies, what it refuses as the kernel would, and that a refused
// transaction changes nothing. The tests that use it are only as good as these refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAddress, encodeKey, encodeOps } from '../../../src/dataplane/nft-elements.js';
import { FakeKernel } from './index.js';

const ok = async (k: FakeKernel, tool: string, args: string[], input?: string) => {
  const r = await k.run(tool, args, { input });
  assert.equal(r.code, 0, `${tool} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const refused = async (k: FakeKernel, tool: string, args: string[], input: string | undefined, why: RegExp) => {
  const before = k.dump();
  const r = await k.run(tool, args, { input });
  assert.notEqual(r.code, 0, `${tool} ${args.join(' ')} should be refused`);
  assert.match(r.stderr, why);
  return before;
};

const TABLE = 'table ip t {\n\tset s { type ipv4_addr; }\n\tmap m { type inet_proto . inet_service : ipv4_addr . inet_service; }\n\tchain c { type filter hook forward priority 0; policy accept; ip daddr @s jump d; }\n\tchain d { }\n}\n';

describe('fake nf_tables', () => {
  it('applies a script as one transaction: one refused part and nothing of it stays', async () => {
    const k = new FakeKernel();
    await ok(k, 'nft', ['-f', '-'], TABLE);
    const before = await refused(k, 'nft', ['-f', '-'], 'add element ip t s { 10.0.0.1 }\ntable ip t { chain e { jump nowhere } }\n', /No such file or directory/);
    assert.equal(k.dump(), before, 'the element of the refused transaction is not there');
    await refused(k, 'nft', ['-f', '-'], 'delete table ip missing\n', /No such file or directory/);
    await refused(k, 'nft', ['-f', '-'], 'table ip t { chain e { ip saddr @missing drop } }\n', /No such file or directory/);
    await refused(k, 'nft', ['-f', '-'], 'table ip t { chain e { ip saddr 10.0.0.0/33 drop } }\n', /Invalid argument/);
    await refused(k, 'nft', ['-f', '-'], 'table ip t { set s { type ipv4_addr; flags interval; } }\n', /File exists/);
    await refused(k, 'nft', ['-f', '-'], 'add element ip t m { tcp . 80 }\n', /Invalid argument/);
    await refused(k, 'nft', ['-f', '-'], 'add element ip t m { tcp : 10.0.0.1 . 80 }\n', /Invalid argument/);
    await refused(k, 'nft', ['-f', '-'], 'flush ruleset\n', /not understood/);
    await refused(k, 'nft', ['-f', '-'], 'table inet t\n', /family ip/);
    assert.equal(k.dump(), before);
  });

  it('nft -c checks and keeps nothing; table + delete table replaces a table atomically', async () => {
    const k = new FakeKernel();
    await ok(k, 'nft', ['-c', '-f', '-'], TABLE);
    assert.deepEqual(k.nft.tableNames(), []);
    await ok(k, 'nft', ['-f', '-'], `${TABLE}add element ip t s { 10.0.0.1 }\n`);
    await ok(k, 'nft', ['-f', '-'], `table ip t\ndelete table ip t\n${TABLE}`);
    assert.doesNotMatch(await ok(k, 'nft', ['list', 'table', 'ip', 't']), /10\.0\.0\.1/);
  });

  it('libnftables sessions and element batches are transactions too', async () => {
    const k = new FakeKernel();
    await ok(k, 'nft', ['-f', '-'], TABLE);
    const run = <P>(session: { run(p: readonly P[], done: (ok: boolean, error: string) => void): void }, payloads: P[]) =>
      new Promise<[boolean, string]>((resolve) => session.run(payloads, (...v) => resolve(v)));
    const nft = k.openNft();
    assert.deepEqual(await run(nft, ['add element ip t m { tcp . 80 : 10.0.0.2 . 8080 }']), [true, '']);
    const [good, error] = await run(nft, ['add element ip t m { udp . 53 : 10.0.0.2 . 53 }', 'delete element ip t m { tcp . 81 }']);
    assert.equal(good, false);
    assert.match(error, /No such file or directory/);
    assert.match(await ok(k, 'nft', ['list', 'table', 'ip', 't']), /elements = \{ tcp \. 80 : 10\.0\.0\.2 \. 8080 \}/);

    const elements = k.openElements('t');
    const key = encodeKey('any', 0x0a000001, 0, 0);
    assert.deepEqual(await run(elements, [encodeOps([{ kind: 'add', set: 's', key }])]), [true, '']);
    const [added] = await run(elements, [encodeOps([{ kind: 'delete', set: 's', key }, { kind: 'delete', set: 's', key }])]);
    assert.equal(added, false, 'the second delete finds nothing: the whole batch is refused');
    assert.match(await ok(k, 'nft', ['list', 'table', 'ip', 't']), /elements = \{ 0x0a000001 \}/);
    const [data] = await run(elements, [encodeOps([{ kind: 'add', set: 's', key, data: encodeAddress(1) }])]);
    assert.equal(data, false, 'a set takes no data');
  });
});

describe('fake iptables and ipset', () => {
  it('iptables-restore: a jump needs its chain, -X needs an unreferenced chain; earlier blocks stay committed', async () => {
    const k = new FakeKernel();
    await refused(k, 'iptables-restore', ['--noflush'], '*filter\n-A FORWARD -j NOWHERE\nCOMMIT\n', /line 2 failed: Couldn't load target/);
    await ok(k, 'iptables-restore', ['--noflush'], '*filter\n:A - [0:0]\n-A FORWARD -j A\nCOMMIT\n');
    await refused(k, 'iptables-restore', ['--noflush'], '*filter\n-X A\nCOMMIT\n', /Too many links/);
    await refused(k, 'iptables-restore', ['--noflush'], '*filter\n-D FORWARD -j B\nCOMMIT\n', /Bad rule/);
    await refused(k, 'iptables-restore', [], '*filter\nCOMMIT\n', /not understood/);
    await refused(k, 'iptables-restore', ['--noflush'], '*mangle\n:M - [0:0]\nCOMMIT\n*filter\n-A FORWARD -m set --match-set nope src -j DROP\nCOMMIT\n', /Set nope doesn't exist/);
    assert.match(await ok(k, 'iptables-save', ['-t', 'mangle']), /^:M - \[0:0\]$/m, 'the mangle block was committed before filter failed');
    assert.equal((await k.run('iptables', ['-w', '-t', 'filter', '-C', 'FORWARD', '-j', 'A'])).code, 0);
    assert.equal((await k.run('iptables', ['-t', 'filter', '-C', 'FORWARD', '-j', 'M'])).code, 1);
  });

  it('ipset restore goes line by line and stops at the first refusal, as the kernel does', async () => {
    const k = new FakeKernel();
    await ok(k, 'ipset', ['create', 'a', 'hash:ip']);
    await refused(k, 'ipset', ['create', 'a', 'hash:ip'], undefined, /already exists/);
    await refused(k, 'ipset', ['create', 'a', 'hash:net', '-exist'], undefined, /already exists/);
    await ok(k, 'ipset', ['create', 'a', 'hash:ip', '-exist']);
    const r = await k.run('ipset', ['restore'], { input: 'add a 10.0.0.1\nadd a 10.0.0.1\nadd a 10.0.0.2\n' });
    assert.match(r.stderr, /Error in line 2: Element cannot be added/);
    assert.match(await ok(k, 'ipset', ['list', 'a']), /Members:\n10\.0\.0\.1\n$/);
    await refused(k, 'ipset', ['add', 'a', '10.0.0.0/24'], undefined, /not a valid hash:ip member/);
    await ok(k, 'iptables', ['-A', 'INPUT', '-m', 'set', '--match-set', 'a', 'src', '-j', 'DROP']);
    await refused(k, 'ipset', ['destroy', 'a'], undefined, /in use by a kernel component/);
    await refused(k, 'ipset', ['destroy', 'b'], undefined, /does not exist/);
  });

  it('IPVS refuses duplicates and what is not there; tools it does not have answer 127', async () => {
    const k = new FakeKernel();
    await ok(k, 'ipvsadm', ['-A', '-t', '1.2.3.4:80', '-s', 'wrr']);
    await refused(k, 'ipvsadm', ['-A', '-t', '1.2.3.4:80', '-s', 'wrr'], undefined, /Service already exists/);
    await refused(k, 'ipvsadm', ['-a', '-u', '1.2.3.4:80', '-r', '10.0.0.1:80', '-m'], undefined, /No such service/);
    await refused(k, 'ipvsadm', ['-C'], undefined, /not understood/);
    assert.equal((await k.run('tc', ['qdisc'])).code, 127);
    k.missing.add('ipvsadm');
    assert.equal((await k.run('ipvsadm', ['-S', '-n'])).code, 127);
  });
});
