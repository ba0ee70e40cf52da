// The gateway's metrics registry on fake sources: names, labels and values as Prometheus will read them, read
// at scrape time; parts that are not configured have no series; promtool accepts the output; the README's
// table names every metric.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MetricsEndpoint } from '../../src/metrics/metrics-endpoint.js';
import { checkMetrics, findPromtool, PROMTOOL_MISSING } from '../support/promtool.js';
import { REPO_ROOT } from '../support/repo.js';
import { fakeSources } from './fake-sources.js';

/** `name{labels} value` lines of a scrape, as a map (labels in the registry's order). */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('metrics registry', () => {
  it('renders realmgw\'s counters with Prometheus names and labels', async () => {
    const { sources, fakes } = fakeSources();
    fakes.wan.queriesUdp = 40;
    fakes.wan.queriesTcp = 2;
    fakes.wan.countRcode(0);
    fakes.wan.countRcode(3);
    fakes.wan.countRcode(3);
    fakes.wan.exhaustedUdpDropped = 5;
    fakes.lan.forwarded = 9;
    const s = series(await new MetricsEndpoint(sources, { processMetrics: false }).scrape());
    const want: [string, number][] = [
      ['realmgw_dns_queries_total{view="wan",transport="udp"}', 40],
      ['realmgw_dns_queries_total{view="wan",transport="tcp"}', 2],
      ['realmgw_dns_responses_total{view="wan",rcode="NOERROR"}', 1],
      ['realmgw_dns_responses_total{view="wan",rcode="NXDOMAIN"}', 2],
      ['realmgw_dns_dropped_total{view="wan",reason="pool_exhausted"}', 5],
      ['realmgw_dns_allocation_refusals_total{view="wan",reason="exhausted_udp"}', 5],
      ['realmgw_dns_forwarded_total{view="lan"}', 9],
      ['realmgw_pool_addresses', 3],
      ['realmgw_pool_live_reservations', 0],
      ['realmgw_pool_reservations_total', 10],
      ['realmgw_pool_released_total{reason="consumed"}', 6],
      ['realmgw_pool_released_total{reason="expired"}', 3],
      ['realmgw_pool_refusals_total{reason="exhausted"}', 4],
      ['realmgw_pool_refusals_total{reason="host_limit"}', 2],
      ['realmgw_defence_challenges_total{kind="tc"}', 5],
      ['realmgw_defence_refusals_total{reason="budget"}', 3],
      ['realmgw_dataplane_confirmed_total', 6],
      ['realmgw_dataplane_refused_total{reason="no_reservation"}', 2],
      ['realmgw_dataplane_refused_total{reason="stolen"}', 1],
      ['realmgw_dataplane_refused_total{reason="handshake"}', 2],
      ['realmgw_dataplane_kernel_operations_total{outcome="failed"}', 1],
      ['realmgw_workers_registered', 1],
      ['realmgw_worker_lease_connections_total{worker="worker1",protocol="tcp",public_port="20417",port="10053"}', 2],
      ['realmgw_worker_lease_bytes_total{worker="worker1",protocol="tcp",public_port="20417",port="10053",direction="out"}', 1200],
      ['realmgw_forward_packets_total{forward="ssh-a",protocol="tcp"}', 600],
      ['realmgw_forward_bytes_total{forward="ssh-a",protocol="tcp"}', 40_000],
      ['realmgw_proxy_relayed_total{kind="http"}', 2],
      ['realmgw_proxy_bytes_total{direction="to_client"}', 200],
      ['realmgw_reloads_total{outcome="succeeded"}', 2],
      ['realmgw_reloads_total{outcome="failed"}', 1],
      ['realmgw_drift_repairs_total{outcome="succeeded"}', 1],
      ['realmgw_ready', 0],
      ['realmgw_readiness_condition{condition="dns"}', 0],
      ['realmgw_build_info{version="9.8.7",nodejs_version="' + process.versions.node + '"}', 1],
    ];
    for (const [key, value] of want) assert.equal(s.get(key), value, key);
    assert.equal(s.get('realmgw_dns_forwarded_total{view="wan"}'), undefined, 'the WAN view never forwards');
    assert.equal(s.get('realmgw_dns_allocations_total{view="lan"}'), undefined, 'the LAN view never allocates');
  });

  it('reads at scrape time, after refreshing the kernel counters', async () => {
    const { sources, fakes } = fakeSources();
    const endpoint = new MetricsEndpoint(sources, { processMetrics: false });
    fakes.wan.queriesTcp = 1;
    assert.equal(series(await endpoint.scrape()).get('realmgw_dns_queries_total{view="wan",transport="tcp"}'), 1);
    fakes.wan.queriesTcp = 7;
    fakes.ready = true;
    const s = series(await endpoint.scrape());
    assert.equal(s.get('realmgw_dns_queries_total{view="wan",transport="tcp"}'), 7);
    assert.equal(s.get('realmgw_ready'), 1);
    assert.equal(fakes.refreshes, 2);
  });

  it('the confirmation lag is a cumulative histogram in seconds', async () => {
    const { sources, fakes } = fakeSources();
    for (const ms of [0.3, 0.8, 40, 40, 60_000]) fakes.lag.record(ms);
    const s = series(await new MetricsEndpoint(sources, { processMetrics: false }).scrape());
    assert.equal(s.get('realmgw_confirmation_lag_seconds_bucket{le="0.0005"}'), 1);
    assert.equal(s.get('realmgw_confirmation_lag_seconds_bucket{le="0.001"}'), 2);
    assert.equal(s.get('realmgw_confirmation_lag_seconds_bucket{le="0.025"}'), 2);
    assert.equal(s.get('realmgw_confirmation_lag_seconds_bucket{le="0.05"}'), 4);
    assert.equal(s.get('realmgw_confirmation_lag_seconds_bucket{le="10"}'), 4);
    assert.equal(s.get('realmgw_confirmation_lag_seconds_bucket{le="+Inf"}'), 5);
    assert.equal(s.get('realmgw_confirmation_lag_seconds_count'), 5);
    assert.ok(Math.abs(s.get('realmgw_confirmation_lag_seconds_sum')! - 60.0811) < 1e-9);
  });

  it('a part that is not configured has no series, and no zero pretending to be one', async () => {
    const { sources } = fakeSources({ lan: false, defences: false, dataplane: false, workers: false, relay: false, forwards: false });
    const text = await new MetricsEndpoint(sources, { processMetrics: false }).scrape();
    const names = [...series(text).keys()];
    for (const part of ['realmgw_defence_', 'realmgw_dataplane_', 'realmgw_worker', 'realmgw_proxy_', 'realmgw_forward_', 'view="lan"']) {
      assert.deepEqual(names.filter((n) => n.includes(part)), [], part);
    }
    assert.match(text, /^# TYPE realmgw_dataplane_confirmed_total counter$/m, 'still described');
  });

  it('Node\'s process metrics come along (event-loop lag among them)', async () => {
    const text = await new MetricsEndpoint(fakeSources().sources).scrape();
    assert.match(text, /^nodejs_eventloop_lag_seconds \d/m);
    assert.match(text, /^process_cpu_seconds_total \d/m);
    assert.doesNotMatch(text, /^# TYPE \S+_total gauge$/m, 'no gauge named like a counter');
  });

  it('promtool check metrics accepts the whole scrape', async (t) => {
    const promtool = findPromtool();
    if (!promtool) return t.skip(PROMTOOL_MISSING);
    const { sources, fakes } = fakeSources();
    fakes.wan.countRcode(23);
    fakes.lag.record(3);
    const r = await checkMetrics(promtool, await new MetricsEndpoint(sources).scrape());
    assert.deepEqual(r, { code: 0, output: '' });
  });

  it('the README\'s "Metrics and health" table names every realmgw_ metric, and nothing else', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Metrics and health\n');
    assert.ok(start >= 0, 'README has a "Metrics and health" section');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const documented = new Set([...section.matchAll(/^\| `(realmgw_[a-z_]+)` \|/gm)].map((m) => m[1]));
    const registered = new Set(new MetricsEndpoint(fakeSources().sources).registry.getMetricsAsArray().map((m) => m.name));
    assert.deepEqual([...registered].filter((n) => !documented.has(n)), [], 'registered but not in the README');
    assert.deepEqual([...documented].filter((n) => !registered.has(n)), [], 'in the README but not registered');
  });
});
