/**
 * One realmgw per runtime directory, end to end: while a gateway runs in the testbed, a second `realmgw run`
 * with the same config and a `realmgw cleanup` refuse, naming the first one's pid, and change nothing in the
 * kernel; the first still confirms new flows afterwards. So does a second gateway with another runtime directory
 * in the same network namespace (ops/netns-claim.ts). Before the lock, the second run replaced the first's
 * nft table, failed on the busy queue and DNS ports, and its rollback deleted the table the first served from.
 * The lock dies with its holder, so after a SIGKILL the next start needs no clean-up of locks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Testbed } from '../support/netns.js';
import { startGateway, writeGatewayConfig, type RunningGateway } from '../support/gateway.js';
import { cliCommand, REPO_ROOT } from '../support/repo.js';

const WAN = '100.64.1.130';
const POOL = ['100.64.1.131', '100.64.1.132', '100.64.1.133'];
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');

describe('one instance per runtime directory and network namespace', { timeout: 180_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;

  /** What realmgw owns in the gateway's namespace, without counters (they move with any packet). */
  const kernelState = async () => {
    const [nft, ipt, sets] = await Promise.all([
      tb.exec('gwa', 'nft', ['-s', 'list', 'ruleset']),
      tb.exec('gwa', 'iptables-save', []),
      tb.exec('gwa', 'ipset', ['list', '-n']),
    ]);
    return { nft: nft.stdout, iptables: ipt.stdout.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith(':')), ipsets: sets.stdout };
  };
  /** A real flow from the Internet side: DNS query for a service name, then TCP to the answer. */
  const newFlow = async () => {
    const job = { op: 'flows', dns: { server: WAN }, flows: [{ name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 }] };
    const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify(job), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const [flow] = JSON.parse(r.stdout) as { ok: boolean; address?: string; reply?: string }[];
    assert.ok(flow!.ok, JSON.stringify(flow));
    assert.ok(POOL.includes(flow!.address!), JSON.stringify(flow));
    assert.match(flow!.reply!, /^hosta saw 100\.64\.0\.100:\d+ hello$/);
  };
  const cli = (args: string[]) => {
    const { cmd, args: a } = cliCommand(args);
    return tb.exec('gwa', cmd, a, { timeoutMs: 60_000 });
  };
  const refusedBy = (pid: number | undefined) =>
    new RegExp(`^RGW_ALREADY_RUNNING: another realmgw holds \\S+/realmgw\\.lock: pid ${pid} \\(\\S+ \\S+main\\.js run --config ${gw.configFile.replace(/[.]/g, '\\.')}\\); nothing was changed\\n$`);

  before(async () => {
    tb = await Testbed.up();
    const server = tb.spawn('hosta', process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', 'hosta', '--tcp', '5000']);
    await server.ready('listening');
    gw = await startGateway(tb, { pbra: null });
  });
  after(async () => {
    await tb?.down();
  });

  test('a second run with the same config exits 1 naming the first, changes nothing, and the first still confirms new flows', async () => {
    await newFlow();
    const before = await kernelState();
    assert.match(before.nft, /table ip realmgw \{/, 'the first gateway installed its table');
    const second = await cli(['run', '--config', gw.configFile]);
    assert.equal(second.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, refusedBy(gw.proc.pid));
    assert.equal(second.stdout, '', 'it stopped before its logger existed, let alone the kernel state');
    assert.deepEqual(await kernelState(), before);
    assert.ok(gw.proc.running);
    await newFlow();
  });

  test('cleanup refuses likewise while the gateway runs', async () => {
    const before = await kernelState();
    const r = await cli(['cleanup', '--config', gw.configFile]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, refusedBy(gw.proc.pid));
    assert.doesNotMatch(r.stdout, /removed:/);
    assert.deepEqual(await kernelState(), before);
    await newFlow();
  });

  test('a second run with another runtime directory is refused too: one kernel-touching realmgw per network namespace', async () => {
    const before = await kernelState();
    const other = await writeGatewayConfig({ pbra: null });
    assert.notEqual(path.dirname(other.adminSocket), path.dirname(gw.adminSocket));
    const second = await cli(['run', '--config', other.configFile]);
    assert.equal(second.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`^RGW_ALREADY_RUNNING: another realmgw holds @realmgw-kernel \\(this network namespace\\): pid ${gw.proc.pid} \\(`));
    const bare = await cli(['cleanup']);
    assert.equal(bare.code, 1, 'cleanup without --config looks at /run/realmgw, and still meets the claim');
    assert.match(bare.stderr, /^RGW_ALREADY_RUNNING: another realmgw holds @realmgw-kernel /);
    assert.deepEqual(await kernelState(), before);
    await newFlow();
  });

  test('after a SIGKILL the lock is free: the next run starts, replaces the leftovers, and confirms flows', async () => {
    await gw.proc.stop('SIGKILL');
    assert.match((await kernelState()).nft, /table ip realmgw \{/, 'a killed gateway leaves its state (fail closed)');
    const { cmd, args } = cliCommand(['run', '--config', gw.configFile]);
    const proc = tb.spawn('gwa', cmd, args);
    await proc.ready('realmgw running', 15_000);
    gw = { ...gw, proc };
    await newFlow();
    const stopped = await proc.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    const r = await cli(['cleanup', '--config', gw.configFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch((await kernelState()).nft, /table ip realmgw \{/);
  });
});
