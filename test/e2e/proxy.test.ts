/**
 * proxy_required names end to end (issue 10): the WAN answer is the service address (no pool address spent),
 * and the relay there carries HTTP by its Host header and TLS by its SNI (never terminated) to the named host's
 * port 80/443; a name that is not proxied, or none, is refused cleanly (HTTP 421, TLS alert). Config and policies
 * are the demo's, whose www.hosta and www.hostb are proxy_required (as Realm Gateway's demo has them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ADDR, Testbed } from '../support/netns.js';
import { probe, startGateway, type RunningGateway } from '../support/gateway.js';
import type { Answer } from '../support/dns-probe.js';
import { makeTempDir, REPO_ROOT } from '../support/repo.js';

const WAN = ADDR.gwaWan;
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');

describe('proxy_required names through the relay', { timeout: 300_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;
  let certDir: string;

  const web = async (job: object) => {
    const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'relay-client.js')], { input: JSON.stringify(job), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { ok: boolean; status?: number; body?: string; error?: string; alert?: number };
  };

  before(async () => {
    tb = await Testbed.up();
    // The demo's own policies and proxy section: www.hosta and www.hostb are proxy_required there.
    for (const h of ['hosta', 'hostb']) {
      const text = await readFile(path.join(REPO_ROOT, 'policies', 'gwa.demo', `${h}.yaml`), 'utf8');
      assert.match(text, new RegExp(`'www\\.${h}\\.gwa\\.demo\\.', proxy_required: true`), `the demo makes www.${h} proxy_required`);
    }
    certDir = await makeTempDir('proxy-cert');
    const key = path.join(certDir, 'key.pem');
    const cert = path.join(certDir, 'cert.pem');
    const r = await tb.exec('gwa', 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=www.hosta.gwa.demo', '-addext', 'subjectAltName=DNS:www.hosta.gwa.demo,DNS:www.hostb.gwa.demo']);
    assert.equal(r.code, 0, r.stderr);
    for (const h of ['hosta', 'hostb'] as const) {
      const p = tb.spawn(h, process.execPath, [path.join(SUPPORT, 'web-server.js'), '--name', h, '--key', key, '--cert', cert]);
      await p.ready('listening');
    }
    gw = await startGateway(tb, { pbra: null });
  });
  after(async () => {
    await tb?.down();
  });

  test('the A answer is the service address and spends no pool address', async () => {
    const before = (await gw.stats()).pool.reserved;
    const [a] = (await probe(tb, 'public', [{ op: 'udp', server: WAN, name: 'www.hosta.gwa.demo', type: 'A' }])) as Answer[];
    assert.deepEqual(a.answers?.map((x) => x.data), [WAN]);
    assert.equal((await gw.stats()).pool.reserved, before);
  });

  test('HTTP by Host reaches the named host on port 80, from the gateway', async () => {
    for (const h of ['hosta', 'hostb']) {
      const r = await web({ op: 'http', address: WAN, port: 80, host: `www.${h}.gwa.demo`, path: '/x' });
      assert.deepEqual({ ok: r.ok, status: r.status }, { ok: true, status: 200 }, JSON.stringify(r));
      assert.match(r.body!, new RegExp(`^${h} http saw ${ADDR.gwaLan.replace(/\./g, '\\.')}:\\d+ GET /x www\\.${h}\\.gwa\\.demo$`));
    }
  });

  test('TLS by SNI reaches the named host on port 443, the handshake is end to end (the host\'s certificate)', async () => {
    const r = await web({ op: 'tls', address: WAN, port: 443, servername: 'www.hostb.gwa.demo', path: '/y' });
    assert.deepEqual({ ok: r.ok, status: r.status }, { ok: true, status: 200 }, JSON.stringify(r));
    assert.match(r.body!, /^hostb https saw .* GET \/y www\.hostb\.gwa\.demo$/);
  });

  test('a name that is not proxied is refused: HTTP 421, TLS alert unrecognized_name; counted', async () => {
    const http = await web({ op: 'http', address: WAN, port: 80, host: 'ssh.hosta.gwa.demo' });
    assert.equal(http.status, 421, JSON.stringify(http));
    const tls = await web({ op: 'tls', address: WAN, port: 443, servername: 'elsewhere.example' });
    assert.equal(tls.ok, false);
    assert.equal(tls.alert, 112, JSON.stringify(tls));
    const stats = (await gw.stats()) as unknown as { proxy: { refused: { unknownName: number }; relayed: { http: number; tls: number } } };
    assert.equal(stats.proxy.refused.unknownName, 2);
    assert.deepEqual(stats.proxy.relayed, { http: 2, tls: 1 });
  });
});
