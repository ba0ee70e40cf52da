/**
 * Realm Gateway's loose_packet end to end, in both confirmation modes (issue 10): a reservation with
 * loose_packet N admits its first flow and N more new flows, only from that first flow's source; -1 admits
 * new flows from that source until its lifetime ends. A foreign source is refused meanwhile. The policies are
 * the demo's with two loose service names added to hosta.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ADDR, Testbed, type NodeName } from '../support/netns.js';
import { probe, startGateway, type RunningGateway } from '../support/gateway.js';
import type { Answer } from '../support/dns-probe.js';
import { makeTempDir, REPO_ROOT } from '../support/repo.js';
import { until } from '../support/until.js';

const WAN = ADDR.gwaWan;
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const LIFETIME_S = 4;

async function loosePolicies(): Promise<string> {
  const dir = await makeTempDir('loose-policies');
  await cp(path.join(REPO_ROOT, 'policies', 'gwa.demo'), dir, { recursive: true });
  const file = path.join(dir, 'hosta.yaml');
  const text = await readFile(file, 'utf8');
  const anchor = "        - {fqdn:   'web.hosta.gwa.demo.'";
  assert.ok(text.includes(anchor));
  const added =
    `        - {fqdn: 'loose2.hosta.gwa.demo.', proxy_required: false, carriergrade: false, protocol: 6, port: 5000, loose_packet: 2, lifetime: ${LIFETIME_S}}\n` +
    `        - {fqdn: 'loosed.hosta.gwa.demo.', proxy_required: false, carriergrade: false, protocol: 17, port: 5001, loose_packet: -1, lifetime: ${LIFETIME_S}}\n`;
  await writeFile(file, text.replace(anchor, added + anchor));
  return dir;
}

for (const confirm of ['nfqueue', 'nftset'] as const) {
  describe(`loose_packet, ${confirm} confirmation`, { timeout: 300_000 }, () => {
    let tb: Testbed;
    let gw: RunningGateway;

    const connect = async (from: NodeName, address: string, proto: 'tcp' | 'udp', port: number) => {
      const r = await tb.exec(from, process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify({ op: 'connect', address, proto, port }), timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { ok: boolean; reply?: string; error?: string };
    };
    const resolve = async (name: string) => {
      const [a] = (await probe(tb, 'public', [{ op: 'udp', server: WAN, name, type: 'A' }])) as Answer[];
      assert.equal(a.answers?.length, 1, JSON.stringify(a));
      return a.answers![0].data as string;
    };
    /** nftset: the kernel holds a marker for the slot again, bound to the first flow's source (the re-arm landed). */
    const rearmed = (address: string, proto: 'tcp' | 'udp', port: number) =>
      confirm === 'nfqueue'
        ? Promise.resolve()
        : until(`a re-armed marker for ${address} ${proto} ${port}`, async () => {
            const r = await tb.exec('gwa', 'nft', ['list', 'set', 'ip', 'realmgw', 'pendb_exact']);
            return r.stdout.includes(`${address} . ${proto} . ${port}`);
          });

    before(async () => {
      tb = await Testbed.up();
      const p = tb.spawn('hosta', process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', 'hosta', '--tcp', '5000', '--udp', '5001']);
      await p.ready('listening');
      gw = await startGateway(tb, { pbra: null, policies: await loosePolicies(), dataplane: { confirm } });
    });
    after(async () => {
      await tb?.down();
    });

    test('loose_packet 2: the first flow and two more from its source; a foreign source never; then refused', async () => {
      const address = await resolve('loose2.hosta.gwa.demo');
      const first = await connect('public', address, 'tcp', 5000);
      assert.ok(first.ok, JSON.stringify(first));
      await rearmed(address, 'tcp', 5000);
      const foreign = await connect('router', address, 'tcp', 5000);
      assert.equal(foreign.ok, false, 'another source is refused while the reservation is held');
      for (let i = 0; i < 2; i++) {
        const again = await connect('public', address, 'tcp', 5000);
        assert.ok(again.ok, `flow ${i + 2}: ${JSON.stringify(again)}`);
        if (i === 0) await rearmed(address, 'tcp', 5000);
      }
      const fourth = await connect('public', address, 'tcp', 5000);
      assert.deepEqual({ ok: fourth.ok, error: fourth.error }, { ok: false, error: 'ECONNREFUSED' });
      const stats = (await gw.stats()) as unknown as { pool: { flows: number; consumed: number; live: number } };
      assert.ok(stats.pool.flows >= 3);
    });

    test('loose_packet -1: new flows from the first source until the lifetime ends, then refused', async () => {
      const address = await resolve('loosed.hosta.gwa.demo');
      for (let i = 0; i < 5; i++) {
        const r = await connect('public', address, 'udp', 5001);
        assert.ok(r.ok, `flow ${i + 1}: ${JSON.stringify(r)}`);
        assert.match(r.reply!, /^hosta saw 100\.64\.0\.100:\d+ hello$/);
        await rearmed(address, 'udp', 5001);
      }
      // wait for the reservation to end (the event: it leaves the pool), then a new flow finds nothing
      await until('the loose reservation to end', async () => ((await gw.stats()) as unknown as { pool: { live: number } }).pool.live === 0, (LIFETIME_S + 5) * 1000);
      const late = await connect('public', address, 'udp', 5001);
      assert.equal(late.ok, false);
    });
  });
}
