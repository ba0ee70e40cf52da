/**
 * The kernel data plane end to end, in both confirmation modes: a client on the Internet side resolves a
 * service name at the gateway and talks to the private host over TCP, UDP and ICMP; first packets without a
 * reservation are refused; established flows survive a SIGKILL of the gateway; SIGTERM leaves nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Testbed, type NsProcess } from '../support/netns.js';
import type { Answer } from '../support/dns-probe.js';
import { probe, startGateway, type RunningGateway } from '../support/gateway.js';
import { REPO_ROOT } from '../support/repo.js';
import { until } from '../support/until.js';
import { holdSession } from '../support/hold-session.js';
import { startUnbound } from '../support/unbound.js';

const WAN = '100.64.1.130';
const POOL = ['100.64.1.131', '100.64.1.132', '100.64.1.133'];
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const LIFETIME_MS = 2000;
/**
 * This suite proves the data plane, one client driving many flows: the demo's abuse defences (proof of address,
 * requester budget) are off here and proven in test/e2e/defences.test.ts and attack.test.ts.
 */
const DEFENCES_OFF = { pbra: null };

interface FlowResult {
  name?: string;
  address?: string;
  ok: boolean;
  reply?: string;
  error?: string;
}

for (const confirm of ['nfqueue', 'nftset'] as const) {
  describe(`data plane, ${confirm} confirmation`, { timeout: 300_000 }, () => {
    let tb: Testbed;
    let gw: RunningGateway;

    const client = async (job: object, node: 'public' | 'hosta' | 'hostb' = 'public') => {
      const r = await tb.exec(node, process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify(job), timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const flows = (list: object[]): Promise<FlowResult[]> => client({ op: 'flows', dns: { server: WAN }, flows: list });
    const connect = (address: string, proto: string, port?: number): Promise<FlowResult> => client({ op: 'connect', address, proto, port });
    const resolve = async (name: string): Promise<string> => {
      const [a] = (await probe(tb, 'public', [{ op: 'udp', server: WAN, name, type: 'A' }])) as Answer[];
      assert.equal(a.answers?.length, 1, `${name}: ${JSON.stringify(a)}`);
      return a.answers![0].data as string;
    };
    const serve = async (node: 'hosta' | 'hostb' | 'public', name: string, args: string[]): Promise<NsProcess> => {
      const p = tb.spawn(node, process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', name, ...args]);
      await p.ready('listening');
      return p;
    };
    const kernelState = async () => {
      const [nft, ipt, sets] = await Promise.all([
        tb.exec('gwa', 'nft', ['list', 'ruleset']),
        tb.exec('gwa', 'iptables-save', []),
        tb.exec('gwa', 'ipset', ['list', '-n']),
      ]);
      return { nft: nft.stdout, iptables: ipt.stdout, ipsets: sets.stdout };
    };

    before(async () => {
      tb = await Testbed.up();
      await serve('hosta', 'hosta', ['--tcp', '22,23,5000', '--udp', '5001', '--hold', '6000']);
      await serve('hostb', 'hostb', ['--tcp', '22,5000', '--udp', '5001']);
      await serve('public', 'public', ['--tcp', '7000', '--udp', '7001']);
      gw = await startGateway(tb, { ...DEFENCES_OFF, dataplane: { confirm } });
    });
    after(async () => {
      await tb?.down();
    });

    test('TCP, UDP and ICMP reach the private host; the host sees the client\'s real address', async () => {
      const r = await flows([
        { name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 },
        { name: 'udp.hostb.gwa.demo', proto: 'udp', port: 5001 },
        { name: 'icmp.hosta.gwa.demo', proto: 'icmp' },
        { name: 'hostb.gwa.demo', proto: 'tcp', port: 22 },
      ]);
      for (const f of r) {
        assert.ok(f.ok, JSON.stringify(f));
        assert.ok(POOL.includes(f.address!), JSON.stringify(f));
      }
      assert.match(r[0].reply!, /^hosta saw 100\.64\.0\.100:\d+ hello$/);
      assert.match(r[1].reply!, /^hostb saw 100\.64\.0\.100:\d+ hello$/);
      assert.match(r[3].reply!, /^hostb saw 100\.64\.0\.100:\d+/);
      assert.ok((await gw.stats()).pool.consumed >= 4, 'each first packet consumed its reservation');
    });

    test('ssh: port 23 on the answer is refused, port 22 works; a second flow without a query is refused', async () => {
      const address = await resolve('ssh.hosta.gwa.demo');
      const telnet = await connect(address, 'tcp', 23);
      assert.equal(telnet.ok, false);
      assert.equal(telnet.error, 'ECONNREFUSED', 'rejected with a TCP reset, not silently dropped');
      const ssh = await connect(address, 'tcp', 22);
      assert.ok(ssh.ok, JSON.stringify(ssh));
      const again = await connect(address, 'tcp', 22);
      assert.equal(again.ok, false, 'the reservation was single-use');
      assert.equal(again.error, 'ECONNREFUSED');
    });

    test('an expired reservation is refused', async () => {
      const expired = (await gw.stats()).pool.expired;
      const address = await resolve('tcp.hostb.gwa.demo');
      await until('the reservation expires', async () => (await gw.stats()).pool.expired > expired);
      const late = await connect(address, 'tcp', 5000);
      assert.equal(late.ok, false);
      assert.equal(late.error, 'ECONNREFUSED');
    });

    test('LAN hosts reach the Internet with the service address as source', async () => {
      const r = await client({ op: 'connect', address: '100.64.0.100', proto: 'tcp', port: 7000 }, 'hosta');
      assert.ok(r.ok, JSON.stringify(r));
      assert.match(r.reply, new RegExp(`^public saw ${WAN.replace(/\./g, '\\.')}:\\d+ hello$`));
      const u = await client({ op: 'connect', address: '100.64.0.100', proto: 'udp', port: 7001 }, 'hostb');
      assert.match(u.reply, new RegExp(`^public saw ${WAN.replace(/\./g, '\\.')}:\\d+`));
    });

    test('load: 2,000 DNS-then-connect flows, mixed hosts and protocols, against 3 addresses, all succeed', async (t) => {
      const mix = [
        { name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 },
        { name: 'udp.hostb.gwa.demo', proto: 'udp', port: 5001 },
        { name: 'hosta.gwa.demo', proto: 'tcp', port: 5000 },
        { name: 'udp.hosta.gwa.demo', proto: 'udp', port: 5001 },
        { name: 'ssh.hostb.gwa.demo', proto: 'tcp', port: 22 },
        { name: 'tcp.hostb.gwa.demo', proto: 'tcp', port: 5000 },
        { name: 'ssh.hosta.gwa.demo', proto: 'tcp', port: 22 },
        { name: 'icmp.hostb.gwa.demo', proto: 'icmp' },
      ];
      const r = await client({ op: 'load', dns: { server: WAN }, mix, count: 2000, rate: 300, concurrency: 6 });
      t.diagnostic(`${r.ok}/${r.count} flows in ${r.seconds} s = ${r.flowsPerSecond} flows/s, ${r.dnsRetries} DNS retries`);
      // The rate is a benchmark figure (npm run bench, flows rows): asserted here it failed on loaded machines.
      assert.equal(r.ok, 2000, JSON.stringify(r));
    });

    test('the same through Debian\'s Unbound as the recursive resolver', async (t) => {
      // the load test's last reservations hold the pool for their lifetime: start from an empty pool
      await until('the previous test\'s reservations to end', async () => (await gw.stats()).pool.live === 0);
      const unbound = await startUnbound(tb, 'public', '127.0.0.1', 'gwa.demo', WAN);
      try {
        const mix = [
          { name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 },
          { name: 'udp.hostb.gwa.demo', proto: 'udp', port: 5001 },
          { name: 'ssh.hostb.gwa.demo', proto: 'tcp', port: 22 },
        ];
        // A resolver answers every client waiting on the same name with ONE upstream answer (Unbound merges
        // identical queries in flight), and that answer is a single-use reservation: when the pool or the host's
        // cap made the gateway silent for a moment, queries pile up and all but one of their clients are
        // refused. An application behind a resolver retries; so does this client, up to four times. How often
        // that happens depends on the machine's load (17 of 300 flows on a loaded CI box, none on a quiet one),
        // so it is reported, not asserted; the behaviour asserted is that every flow gets through.
        const r = await client({ op: 'load', dns: { server: '127.0.0.1' }, mix, count: 300, rate: 100, concurrency: 4, attempts: 5 });
        t.diagnostic(`${r.ok}/${r.count} flows, ${r.dnsRetries} DNS retries, ${r.flowRetries} flows tried again`);
        assert.equal(r.ok, 300, JSON.stringify(r));
      } finally {
        await unbound.stop();
      }
    });

    test('SIGKILL: established flows keep working; a restart replaces the kernel state, never duplicates it', async () => {
      const address = await resolve('tcp.hosta.gwa.demo');
      const { proc: hold, say } = await holdSession(tb, 'public', address, 6000);
      assert.match(await say('before'), /hosta saw 100\.64\.0\.100:\d+ before/);
      const before = await kernelState();
      await gw.proc.stop('SIGKILL');
      assert.match(await say('during'), /during/, 'conntrack carries the flow with realmgw dead');
      const newFlow = await connect(POOL[0], 'tcp', 5000);
      assert.equal(newFlow.ok, false);
      // nfqueue, fail-closed: nobody reads the queue, the kernel drops. nftset: no element, the refuse chain resets.
      assert.equal(newFlow.error, confirm === 'nfqueue' ? 'timeout' : 'ECONNREFUSED');
      gw = await startGateway(tb, { ...DEFENCES_OFF, dataplane: { confirm } });
      assert.match(await say('after'), /after/);
      const now = await kernelState();
      assert.equal(now.nft.match(/^table ip realmgw \{$/gm)?.length, 1);
      for (const jump of before.iptables.split('\n').filter((l) => /^-A (PREROUTING|FORWARD|INPUT) .*-j RGW-/.test(l))) {
        assert.equal(now.iptables.split('\n').filter((l) => l === jump).length, 1, `exactly one '${jump}'`);
      }
      assert.deepEqual(now.ipsets.split('\n').sort(), before.ipsets.split('\n').sort());
      const fresh = await flows([{ name: 'udp.hosta.gwa.demo', proto: 'udp', port: 5001 }]);
      assert.ok(fresh[0].ok, JSON.stringify(fresh));
      hold.child.stdin!.end();
      await hold.stop();
    });

    if (confirm === 'nfqueue') {
      test('queue bypass: with realmgw down, new flows to the pool are refused at once instead of timing out', async () => {
        await gw.proc.stop('SIGTERM', 10_000);
        gw = await startGateway(tb, { ...DEFENCES_OFF, dataplane: { confirm, queue: { num: 1, bypass: true } } });
        assert.ok((await flows([{ name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 }]))[0].ok);
        await gw.proc.stop('SIGKILL');
        const r = await connect(POOL[1], 'tcp', 5000);
        assert.equal(r.error, 'ECONNREFUSED');
        gw = await startGateway(tb, { ...DEFENCES_OFF, dataplane: { confirm } });
      });
    }

    test('SIGTERM removes everything realmgw installed and nothing else', async () => {
      await tb.exec('gwa', 'nft', ['add', 'table', 'ip', 'bystander']);
      await tb.exec('gwa', 'iptables', ['-A', 'FORWARD', '-p', 'udp', '--dport', '9', '-j', 'DROP']);
      const exit = await gw.proc.stop('SIGTERM', 10_000);
      assert.equal(exit.code, 0);
      const k = await kernelState();
      assert.doesNotMatch(k.nft, /realmgw/);
      assert.match(k.nft, /table ip bystander/);
      assert.doesNotMatch(k.iptables, /RGW/);
      assert.match(k.iptables, /-A FORWARD -p udp -m udp --dport 9 -j DROP/);
      assert.doesNotMatch(k.ipsets, /rgw-/);
    });
  });
}
