/**
 * Reload and graceful stop end to end (issue 11), in both confirmation modes. A reload that adds a service
 * name, removes another and adds a static forward, while an established TCP flow and a pending reservation
 * exist: the new name resolves, the removed one is NXDOMAIN, the flow keeps exchanging data, the reservation
 * is still confirmed afterwards. How the test knows the kernel change was one transaction without recreating
 * the table: `nft monitor` in the gateway's namespace sees every event of table ip realmgw in ONE generation
 * and no `add table`/`delete table`; the table keeps its handle; the kept forward's named counter keeps its
 * count (a recreated table starts at zero). A broken policy (SIGHUP) changes nothing. SIGTERM drains first.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ADDR, Testbed } from '../support/netns.js';
import type { Answer } from '../support/dns-probe.js';
import { adminGet, probe, startGateway, type RunningGateway } from '../support/gateway.js';
import { cliCommand, makeTempDir, REPO_ROOT } from '../support/repo.js';
import { until } from '../support/until.js';
import { holdSession } from '../support/hold-session.js';

const WAN = ADDR.gwaWan;
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const NEW_NAME = `        - {fqdn:   'new.hosta.gwa.demo.', proxy_required: false, carriergrade: false, protocol: 6,  port: 5000 }\n`;
const fwd = (name: string, port: number, to: string) => ({ name, protocol: 'tcp', port, to: { address: to, port: 22 } });

for (const confirm of ['nftset', 'nfqueue'] as const) {
  describe(`reload and graceful stop, ${confirm} confirmation`, { timeout: 300_000 }, () => {
    let tb: Testbed;
    let gw: RunningGateway;
    let policies: string;

    const client = async (job: object) => {
      const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify(job), timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { ok: boolean; error?: string; reply?: string };
    };
    const connect = (address: string, port: number) => client({ op: 'connect', address, proto: 'tcp', port });
    const ask = async (name: string): Promise<Answer> => ((await probe(tb, 'public', [{ op: 'udp', server: WAN, name, type: 'A' }])) as Answer[])[0]!;
    const resolve = async (name: string): Promise<string> => {
      const a = await ask(name);
      assert.equal(a.answers?.length, 1, `${name}: ${JSON.stringify(a)}`);
      return a.answers![0]!.data as string;
    };
    const nft = async (args: string[]) => {
      const r = await tb.exec('gwa', 'nft', args);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const counterPackets = async (name: string) => (JSON.parse(await nft(['-j', 'list', 'counter', 'ip', 'realmgw', name])).nftables[1].counter.packets as number);
    const tableHandle = async () => /# handle (\d+)/.exec(await nft(['-a', 'list', 'table', 'ip', 'realmgw']))![1];
    const editHosta = async (edit: (t: string) => string) => {
      const file = path.join(policies, 'hosta.yaml');
      await writeFile(file, edit(await readFile(file, 'utf8')));
    };
    const editConfig = async (edit: (c: { [k: string]: any }) => void) => {
      const c = parse(await readFile(gw.configFile, 'utf8'));
      edit(c);
      await writeFile(gw.configFile, stringify(c));
    };

    before(async () => {
      tb = await Testbed.up();
      for (const [node, args] of [['hosta', ['--tcp', '22,5000', '--hold', '6000']], ['hostb', ['--tcp', '22']]] as const) {
        const p = tb.spawn(node, process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', node, ...args]);
        await p.ready('listening');
      }
      policies = path.join(await makeTempDir('policies'), 'gwa.demo');
      await cp(path.join(REPO_ROOT, 'policies', 'gwa.demo'), policies, { recursive: true });
      gw = await startGateway(tb, {
        pbra: null,
        policies,
        dataplane: { confirm },
        // a pending reservation must outlive the reload by far; the lame duck is set per test
        pool: { lifetimeMs: 30_000 },
        shutdown: { lameDuckMs: 60_000 },
        forwards: { rules: [fwd('ssh-a', 2222, ADDR.hosta)] },
      });
    });
    after(async () => {
      await tb?.down();
    });

    test('a reload adds and removes names and a forward in one nft transaction; flows, reservations and counters survive', async () => {
      // an established flow, a pending reservation, a forward that has counted a connection
      const { proc: hold, say } = await holdSession(tb, 'public', await resolve('tcp.hosta.gwa.demo'), 6000);
      assert.match(await say('before'), /hosta saw 100\.64\.0\.100:\d+ before/);
      const pending = await resolve('ssh.hostb.gwa.demo');
      assert.ok((await connect(WAN, 2222)).ok);
      const counted = await counterPackets('fwd_ssh_a_new');
      assert.ok(counted >= 1);
      const handle = await tableHandle();
      assert.equal((await ask('new.hosta.gwa.demo')).rcode, 'NXDOMAIN');
      await resolve('www.hosta.gwa.demo');

      // watch nf_tables while the reload runs; two marker tables bracket its events
      // stdbuf: nft writes events through stdio, which a pipe buffers
      const monitor = tb.spawn('gwa', 'stdbuf', ['-oL', 'nft', 'monitor']);
      const mark = async (name: string) => {
        const r = await tb.exec('gwa', 'nft', ['-f', '-'], { input: `add table ip ${name}\ndelete table ip ${name}\n` });
        assert.equal(r.code, 0, r.stderr);
      };
      await until('nft monitor to listen', async () => {
        await mark('rgwmark1'); // again until seen: the monitor may not have subscribed yet
        return monitor.lines.some((l) => l.text === 'delete table ip rgwmark1');
      });
      await editHosta((t) => t.replace(/^.*'www\.hosta\.gwa\.demo\.'.*\n/m, NEW_NAME));
      await editConfig((c) => c.forwards.rules.push(fwd('ssh-b', 2223, ADDR.hostb)));
      const { cmd, args } = cliCommand(['reload', '--config', gw.configFile]);
      const r = await tb.exec('gwa', cmd, args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^reloaded: .*policies.*kernel.* \(kernel: \d+ nft operations in one transaction\)/);
      await mark('rgwmark2');
      await until('the monitor to see the second marker', () => monitor.lines.some((l) => l.text === 'add table ip rgwmark2'));
      await monitor.stop('SIGTERM');
      const lines = monitor.lines.filter((l) => l.stream === 'stdout').map((l) => l.text);
      const events = lines.slice(lines.lastIndexOf('delete table ip rgwmark1') + 1, lines.indexOf('add table ip rgwmark2'));
      const generations: string[][] = [[]];
      for (const l of events) {
        if (l.startsWith('# new generation')) generations.push([]);
        else generations[generations.length - 1]!.push(l);
      }
      const ours = generations.filter((g) => g.some((l) => / ip realmgw\b/.test(l)));
      assert.equal(ours.length, 1, `one transaction on table ip realmgw:\n${events.join('\n')}`);
      assert.ok(ours[0]!.some((l) => l.startsWith('add counter ip realmgw fwd_ssh_b_new')));
      assert.ok(!events.some((l) => /^(add|delete) table ip realmgw/.test(l)), 'the table was never deleted nor created');
      assert.equal(await tableHandle(), handle, 'the same table');
      assert.equal(await counterPackets('fwd_ssh_a_new'), counted, "the kept forward's counter kept its count");
      // the drift check compares with the updated state: the reload is not drift
      assert.deepEqual(await adminGet(gw.adminSocket, '/verify'), { ok: true, drift: [], repair: 'none' });

      // DNS switched; the flow, the pending reservation and the new forward work
      assert.equal((await ask('www.hosta.gwa.demo')).rcode, 'NXDOMAIN');
      const fresh = await resolve('new.hosta.gwa.demo');
      assert.match((await connect(fresh, 5000)).reply ?? '', /^hosta saw 100\.64\.0\.100:\d+ hello$/);
      assert.match(await say('after'), /hosta saw 100\.64\.0\.100:\d+ after/);
      assert.match((await connect(pending, 22)).reply ?? '', /^hostb saw 100\.64\.0\.100:\d+ hello$/, 'the reservation made before the reload is confirmed');
      assert.match((await connect(WAN, 2223)).reply ?? '', /^hostb saw/);
      hold.child.stdin!.end();
      await hold.stop();
    });

    test('SIGHUP with a broken policy changes nothing: same answers, same nft ruleset; the problem names file and key', async () => {
      // stateless (no counter values), without the reservation elements' countdown
      const rules = async () => (await nft(['-s', 'list', 'ruleset'])).replace(/ expires \S+/g, '');
      const ruleset = await rules();
      const from = gw.proc.lineCount;
      await editHosta((t) => t.replace("protocol: 6,  port: 22", "protocol: 6,  port: 'twenty-two'"));
      process.kill(gw.proc.pid!, 'SIGHUP');
      const line = await gw.proc.ready(/RGW_RELOAD_REFUSED/, 10_000, { fromLine: from });
      assert.match(line, /hosta\.yaml:\d+: .*SFQDN\[4\]\.port: /);
      assert.equal(await rules(), ruleset);
      await resolve('ssh.hosta.gwa.demo');
      await resolve('new.hosta.gwa.demo');
      const { cmd, args } = cliCommand(['reload', '--config', gw.configFile]);
      const r = await tb.exec('gwa', cmd, args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /hosta\.yaml:\d+: .*port: [^]*RGW_RELOAD_REFUSED: reload invalid: 1 problem\(s\)/);
      await editHosta((t) => t.replace("port: 'twenty-two'", 'port: 22'));
    });

    test('SIGTERM: a lame duck that refuses new reservations and confirms pending ones, then nothing left', async () => {
      const pending = await resolve('ssh.hosta.gwa.demo');
      const from = gw.proc.lineCount;
      process.kill(gw.proc.pid!, 'SIGTERM');
      await gw.proc.ready('draining: no new reservations', 10_000, { fromLine: from });
      const refused = await ask('tcp.hostb.gwa.demo');
      assert.equal(refused.rcode, 'REFUSED');
      assert.equal(refused.answers?.length ?? 0, 0);
      assert.match((await connect(pending, 22)).reply ?? '', /^hosta saw/, 'a reservation handed out before SIGTERM is still confirmed');
      process.kill(gw.proc.pid!, 'SIGTERM'); // the operator will not wait out the lame duck
      const exit = await gw.proc.exited;
      assert.equal(exit.code, 0);
      assert.doesNotMatch(await nft(['list', 'ruleset']), /realmgw/);
    });
  });
}
