/**
 * /metrics, /healthz and /readyz of a real gateway in the testbed (issue 11): after DNS queries on both views and
 * a confirmed flow (and one through a static forward), the counters moved, alike over the admin socket and over the metrics listener on the LAN
 * address; the listener is not on the WAN address; /readyz is 200 once started; and Debian's promtool accepts
 * both scrapes (skipped, saying so, only when promtool is missing). In both confirmation modes: nftset's
 * consumption reaches the pool by conntrack events and its refusal counters are the kernel's, read per scrape.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ADDR, Testbed } from '../support/netns.js';
import { probe, startGateway, type RunningGateway } from '../support/gateway.js';
import { REPO_ROOT } from '../support/repo.js';
import { checkMetrics, findPromtool, PROMTOOL_MISSING } from '../support/promtool.js';
import type { Answer } from '../support/dns-probe.js';
import { until } from '../support/until.js';
import { adminText, sampleValue } from '../support/admin-text.js';

const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const PORT = 9470;

const value = sampleValue;

for (const confirm of ['nfqueue', 'nftset'] as const) describe(`metrics and health, ${confirm} confirmation`, { timeout: 300_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;

  /** curl from a namespace: HTTP status and body (status 000: no connection). */
  const curl = async (node: 'hosta' | 'public', url: string) => {
    const r = await tb.exec(node, 'curl', ['-s', '-m', '10', '-o', '-', '-w', '\n%{http_code}', url]);
    const at = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
  };

  before(async () => {
    tb = await Testbed.up();
    const server = tb.spawn('hosta', process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', 'hosta', '--tcp', '5000']);
    await server.ready('listening');
    gw = await startGateway(tb, {
      pbra: null,
      dataplane: { confirm },
      metrics: { listen: { address: ADDR.gwaLan, port: PORT } },
      forwards: { innerAddress: ADDR.gwaLan, rules: [{ name: 'echo-a', protocol: 'tcp', port: 8081, to: { address: ADDR.hosta, port: 5000 } }] },
    });
  });
  after(async () => {
    await tb?.down();
  });

  test('/healthz and /readyz once started, on the admin socket and the LAN listener', async () => {
    assert.deepEqual(await adminText(gw.adminSocket, '/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
    const ready = await adminText(gw.adminSocket, '/readyz');
    assert.equal(ready.status, 200, ready.body);
    assert.match(ready.body, /^ready\n/);
    for (const condition of ['started', 'kernel', 'dns']) assert.match(ready.body, new RegExp(`^\\[\\+\\]${condition}: `, 'm'));
    assert.deepEqual(await curl('hosta', `http://${ADDR.gwaLan}:${PORT}/healthz`), { status: 200, body: 'ok\n' });
    assert.equal((await curl('hosta', `http://${ADDR.gwaLan}:${PORT}/readyz`)).status, 200);
  });

  test('the listener serves no admin route, and nothing on the WAN address', async () => {
    assert.equal((await curl('hosta', `http://${ADDR.gwaLan}:${PORT}/stats`)).status, 404);
    assert.equal((await curl('public', `http://${ADDR.gwaWan}:${PORT}/metrics`)).status, 0, 'no connection from the Internet side');
  });

  test('after queries and a confirmed flow the counters moved, over both; promtool accepts both scrapes', async (t) => {
    const wan = (await probe(tb, 'public', [{ op: 'udp', server: ADDR.gwaWan, name: 'gwa.demo', type: 'SOA' }, { op: 'udp', server: ADDR.gwaWan, name: 'nothere.gwa.demo', type: 'A' }])) as Answer[];
    assert.deepEqual(wan.map((a) => a.rcode), ['NOERROR', 'NXDOMAIN']);
    const lan = (await probe(tb, 'hosta', [{ op: 'tcp', server: ADDR.gwaLan, queries: [{ name: 'hostb.gwa.demo', type: 'A' }] }])) as Answer[][];
    assert.equal(lan[0][0].rcode, 'NOERROR');
    const flow = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], {
      input: JSON.stringify({ op: 'flows', dns: { server: ADDR.gwaWan }, flows: [{ name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 }] }),
      timeoutMs: 60_000,
    });
    const [f] = JSON.parse(flow.stdout) as { ok: boolean }[];
    assert.ok(f.ok, flow.stdout + flow.stderr);
    const forwarded = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify({ op: 'connect', address: ADDR.gwaWan, proto: 'tcp', port: 8081 }) });
    assert.ok((JSON.parse(forwarded.stdout) as { ok: boolean }).ok, forwarded.stdout + forwarded.stderr);

    // nftset: the pool learns of the consumption from a conntrack event, which may trail the flow
    await until('the pool saw the flow consume its reservation', async () => (await gw.stats()).pool.consumed >= 1);
    const viaAdmin = await adminText(gw.adminSocket, '/metrics');
    assert.deepEqual({ status: viaAdmin.status, type: viaAdmin.type }, { status: 200, type: 'text/plain; version=0.0.4; charset=utf-8' });
    const viaTcp = await curl('hosta', `http://${ADDR.gwaLan}:${PORT}/metrics`);
    assert.equal(viaTcp.status, 200);
    for (const [how, scrape] of [['admin socket', viaAdmin.body], ['TCP listener', viaTcp.body]] as const) {
      for (const series of [
        'realmgw_dns_queries_total{view="wan",transport="udp"}',
        'realmgw_dns_queries_total{view="lan",transport="tcp"}',
        'realmgw_dns_responses_total{view="wan",rcode="NXDOMAIN"}',
        'realmgw_dns_allocations_total{view="wan"}',
        'realmgw_pool_reservations_total',
        'realmgw_pool_released_total{reason="consumed"}',
        'realmgw_pool_flows_total',
        'realmgw_dataplane_confirmed_total',
        'realmgw_confirmation_lag_seconds_count',
        'realmgw_confirmation_lag_seconds_bucket{le="+Inf"}',
        'realmgw_forward_connections_total{forward="echo-a",protocol="tcp"}',
        'realmgw_forward_bytes_total{forward="echo-a",protocol="tcp"}',
        'realmgw_ready',
      ]) {
        assert.ok((value(scrape, series) ?? 0) > 0, `${how}: ${series} = ${value(scrape, series)}`);
      }
      assert.equal(value(scrape, 'realmgw_pool_addresses'), 3, how);
      assert.match(scrape, /^realmgw_build_info\{version="[^"]+",nodejs_version="[^"]+"\} 1$/m, how);
      assert.match(scrape, /^nodejs_eventloop_lag_seconds /m, how);
    }

    const promtool = findPromtool();
    if (!promtool) return t.skip(PROMTOOL_MISSING);
    for (const [how, scrape] of [['admin socket', viaAdmin.body], ['TCP listener', viaTcp.body]] as const) {
      assert.deepEqual(await checkMetrics(promtool, scrape), { code: 0, output: '' }, how);
    }
  });
});
