/**
 * `dns.wan.serviceFormats: realm-gateway` end to end (issue 10): a Realm Gateway's client (dig here, as its
 * scripts use it) reads service names in Realm Gateway's own wire formats — SRV target `_<port>._<protonum>.<name>`
 * with its address in the additional section, TXT `proxy_<bool>.port_<n>.protocol_<n>.<name>.` that allocates
 * like A — and the address it got carries a real flow to the host.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ADDR, Testbed } from '../support/netns.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { REPO_ROOT } from '../support/repo.js';
import { until } from '../support/until.js';

const WAN = ADDR.gwaWan;
const POOL = ['100.64.1.131', '100.64.1.132', '100.64.1.133'];
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');

/** dig's answer and additional sections as [owner, type, data] triples. */
function sections(out: string): { answer: string[][]; additional: string[][] } {
  const section = (title: string) => {
    const at = out.indexOf(`;; ${title} SECTION:`);
    if (at < 0) return [];
    const lines = out.slice(at).split('\n').slice(1);
    const rows: string[][] = [];
    for (const l of lines) {
      if (l.trim() === '') break;
      const [owner, , , type, ...data] = l.split(/\s+/);
      rows.push([owner, type, data.join(' ')]);
    }
    return rows;
  };
  return { answer: section('ANSWER'), additional: section('ADDITIONAL') };
}

describe("Realm Gateway's SRV and TXT formats through dig", { timeout: 300_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;
  const dig = async (...args: string[]) => {
    const r = await tb.exec('public', 'dig', ['+norec', '+nocookie', `@${WAN}`, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return sections(r.stdout);
  };
  const connect = async (address: string, port: number) => {
    const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify({ op: 'connect', address, proto: 'tcp', port }), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { ok: boolean; reply?: string; error?: string };
  };
  const drained = () => until('the pool to be empty', async () => (await gw.stats()).pool.live === 0, 30_000);

  before(async () => {
    tb = await Testbed.up();
    const p = tb.spawn('hosta', process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', 'hosta', '--tcp', '22']);
    await p.ready('listening');
    gw = await startGateway(tb, { pbra: null, dns: { wan: { serviceFormats: 'realm-gateway' } } });
  });
  after(async () => {
    await tb?.down();
  });

  test('SRV: target _22._6.<name>, its address in the additional section; that address reaches the host', async () => {
    await drained();
    const { answer, additional } = await dig('ssh.hosta.gwa.demo', 'SRV');
    assert.deepEqual(answer, [['ssh.hosta.gwa.demo.', 'SRV', '10 100 22 _22._6.ssh.hosta.gwa.demo.']]);
    assert.equal(additional.length, 1, JSON.stringify(additional));
    const [owner, type, address] = additional[0];
    assert.deepEqual([owner, type], ['_22._6.ssh.hosta.gwa.demo.', 'A']);
    assert.ok(POOL.includes(address), address);
    const flow = await connect(address, 22);
    assert.ok(flow.ok, JSON.stringify(flow));
    assert.match(flow.reply!, new RegExp(`^hosta saw ${ADDR.public.replace(/\./g, '\\.')}:`));
  });

  test('A for the SRV target allocates as the service name would', async () => {
    await drained();
    const { answer } = await dig('_22._6.ssh.hosta.gwa.demo', 'A');
    assert.equal(answer.length, 1, JSON.stringify(answer));
    assert.ok(POOL.includes(answer[0][2]), answer[0][2]);
    assert.ok((await connect(answer[0][2], 22)).ok);
  });

  test('TXT allocates: proxy_False.port_22.protocol_6.<name>., the reserved address as additional A', async () => {
    await drained();
    const before = (await gw.stats()).pool.reserved;
    const { answer, additional } = await dig('ssh.hosta.gwa.demo', 'TXT');
    assert.deepEqual(answer, [['ssh.hosta.gwa.demo.', 'TXT', '"proxy_False.port_22.protocol_6.ssh.hosta.gwa.demo."']]);
    assert.equal(additional.length, 1, JSON.stringify(additional));
    assert.ok(POOL.includes(additional[0][2]), additional[0][2]);
    assert.equal((await gw.stats()).pool.reserved, before + 1);
    assert.ok((await connect(additional[0][2], 22)).ok);
  });

  test('TXT of a proxy_required name: proxy_True and the service address, nothing reserved', async () => {
    const before = (await gw.stats()).pool.reserved;
    const { answer, additional } = await dig('www.hosta.gwa.demo', 'TXT');
    assert.deepEqual(answer, [['www.hosta.gwa.demo.', 'TXT', '"proxy_True.port_80.protocol_6.www.hosta.gwa.demo."']]);
    assert.deepEqual(additional, [['www.hosta.gwa.demo.', 'A', WAN]]);
    assert.equal((await gw.stats()).pool.reserved, before);
  });
});
