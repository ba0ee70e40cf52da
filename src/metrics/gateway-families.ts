/**
 * Everything but the DNS front as Prometheus metrics: pool, defences, data plane, workers' leases, static
 * forwards, the relay, the operator counters and readiness. A part that is not configured has no series (its
 * metric prints HELP and TYPE only).
 */
import type { Registry } from 'prom-client';
import type { Counters } from '../workers/accounting.js';
import type { MetricSources } from './sources.js';
import { scrapeCounter, scrapeGauge, scrapeHistogramMs, type Sample } from './scrape-metrics.js';

const one = (v: number | undefined): Sample[] => (v === undefined ? [] : [[{}, v]]);
/** One series per entry of `values`, the key as `label`. */
const by = (label: string, values: Record<string, number> | undefined): Sample[] => (values ? Object.entries(values).map(([k, v]) => [{ [label]: k }, v]) : []);

export function registerPoolMetrics(registry: Registry, s: MetricSources): void {
  scrapeGauge(registry, { name: 'realmgw_pool_addresses', help: 'Public addresses in the circular pool.', read: () => one(s.pool().size) });
  scrapeGauge(registry, { name: 'realmgw_pool_live_reservations', help: 'Live (pending) reservations.', read: () => one(s.pool().stats.live) });
  scrapeCounter(registry, { name: 'realmgw_pool_reservations_total', help: 'Reservations made (pool addresses allocated to a DNS answer).', read: () => one(s.pool().stats.reserved) });
  scrapeCounter(registry, {
    name: 'realmgw_pool_released_total',
    help: 'Reservations released, by reason: consumed by a flow, expired unused, cancelled (the kernel install failed).',
    labelNames: ['reason'],
    read: () => {
      const { consumed, expired, cancelled } = s.pool().stats;
      return by('reason', { consumed, expired, cancelled });
    },
  });
  scrapeCounter(registry, {
    name: 'realmgw_pool_refusals_total',
    help: 'Reservations refused by the pool, by reason: no free address for the key (exhausted), the host over its CIRCULARPOOL.max (host_limit).',
    labelNames: ['reason'],
    read: () => by('reason', { exhausted: s.pool().stats.exhausted, host_limit: s.pool().stats.hostLimited }),
  });
  scrapeCounter(registry, { name: 'realmgw_pool_flows_total', help: 'New flows admitted: one per consumed reservation, plus further flows of loose_packet ones.', read: () => one(s.pool().stats.flows) });
  scrapeHistogramMs(registry, 'realmgw_confirmation_lag_seconds', 'Time from a reservation to its consumption reaching the pool (a loose reservation: its first flow).', () => s.pool().confirmationLag);
}

export function registerDefenceMetrics(registry: Registry, s: MetricSources): void {
  scrapeCounter(registry, { name: 'realmgw_defence_challenges_total', help: 'Unproven requesters answered with a challenge, by kind (tc, badcookie, cname).', labelNames: ['kind'], read: () => by('kind', s.defences()?.challenges) });
  scrapeCounter(registry, { name: 'realmgw_defence_proofs_total', help: 'Proofs of address accepted, by kind (tcp, cookie, cname).', labelNames: ['kind'], read: () => by('kind', s.defences()?.proofs) });
  scrapeCounter(registry, {
    name: 'realmgw_defence_refusals_total',
    help: 'Reservations refused by the defences, by reason (unproven requester, reputation tier, requester budget).',
    labelNames: ['reason'],
    read: () => by('reason', s.defences()?.refused),
  });
  scrapeCounter(registry, { name: 'realmgw_defence_cookies_invalid_total', help: 'DNS server cookies that failed validation.', read: () => one(s.defences()?.cookiesInvalid) });
  scrapeCounter(registry, { name: 'realmgw_defence_aliases_unknown_total', help: 'Follow-ups to a CNAME alias that is unknown or spent.', read: () => one(s.defences()?.aliasesUnknown) });
  scrapeCounter(registry, { name: 'realmgw_defence_bound_reservations_total', help: 'Reservations bound to the client subnet of the query (ECS).', read: () => one(s.defences()?.bound) });
}

export function registerDataplaneMetrics(registry: Registry, s: MetricSources): void {
  const d = () => s.dataplane();
  scrapeCounter(registry, { name: 'realmgw_dataplane_confirmed_total', help: 'Reservations consumed by the data plane (a first packet, or a completed TCP handshake).', read: () => one(d()?.confirmed) });
  scrapeCounter(registry, {
    name: 'realmgw_dataplane_refused_total',
    help: 'First packets refused, by reason: no reservation (nfqueue mode), from outside the bound client subnet (stolen), a handshake after its reservation was gone (handshake).',
    labelNames: ['reason'],
    read: () => {
      const st = d();
      if (!st) return [];
      // nfqueue counts every refusal in `refused`, stolen and handshake ones included: the rest had no reservation
      const other = Math.max(0, st.refused - st.stolenRefused - st.handshakeRefused);
      return by('reason', { no_reservation: other, stolen: st.stolenRefused, handshake: st.handshakeRefused });
    },
  });
  scrapeCounter(registry, { name: 'realmgw_dataplane_unparsable_total', help: 'Queued packets that could not be parsed (nfqueue mode).', read: () => one(d()?.unparsable) });
  scrapeCounter(registry, { name: 'realmgw_dataplane_syns_forwarded_total', help: 'TCP SYNs DNATed to a pending reservation without consuming it (nfqueue mode).', read: () => one(d()?.synsForwarded) });
  scrapeCounter(registry, {
    name: 'realmgw_dataplane_kernel_operations_total',
    help: 'Kernel transactions for reservations (nftset mode), by outcome.',
    labelNames: ['outcome'],
    read: () => {
      const st = d();
      return st ? by('outcome', { ok: st.kernelOps - st.kernelOpFailures, failed: st.kernelOpFailures }) : [];
    },
  });
}

export function registerWorkerMetrics(registry: Registry, s: MetricSources): void {
  const labelNames = ['worker', 'protocol', 'public_port', 'port'];
  /** One series per lease; with `direction`, two: in (toward the worker) and out. */
  const perLease = (pick: (c: Counters) => number | [number, number]) =>
    function* (): Iterable<Sample> {
      for (const w of s.workers()?.workers ?? []) {
        for (const l of w.leases) {
          const labels = { worker: w.name, protocol: l.protocol, public_port: String(l.publicPort), port: String(l.port) };
          const v = pick(l.counters);
          if (typeof v === 'number') yield [labels, v];
          else yield* [[{ ...labels, direction: 'in' }, v[0]], [{ ...labels, direction: 'out' }, v[1]]] as Sample[];
        }
      }
    };
  scrapeGauge(registry, { name: 'realmgw_workers_registered', help: 'Workers registered.', read: () => one(s.workers()?.workers.length) });
  scrapeCounter(registry, { name: 'realmgw_worker_lease_connections_total', help: 'Connections through a worker lease (kernel counters, read at scrape).', labelNames, read: perLease((c) => c.connections) });
  scrapeCounter(registry, {
    name: 'realmgw_worker_lease_packets_total',
    help: 'Packets through a worker lease, by direction (in: toward the worker).',
    labelNames: [...labelNames, 'direction'],
    read: perLease((c) => [c.packetsIn, c.packetsOut]),
  });
  scrapeCounter(registry, {
    name: 'realmgw_worker_lease_bytes_total',
    help: 'Bytes through a worker lease, by direction (in: toward the worker).',
    labelNames: [...labelNames, 'direction'],
    read: perLease((c) => [c.bytesIn, c.bytesOut]),
  });
}

export function registerForwardMetrics(registry: Registry, s: MetricSources): void {
  const series = (pick: (f: { connections?: number; packets?: number; bytes?: number }) => number | undefined) => () =>
    s.forwards().flatMap((f): Sample[] => {
      const v = pick(f);
      return v === undefined ? [] : [[{ forward: f.name, protocol: f.protocol }, v]];
    });
  const labelNames = ['forward', 'protocol'];
  scrapeCounter(registry, { name: 'realmgw_forward_connections_total', help: 'Connections opened through a static forward (kernel counter, read at scrape).', labelNames, read: series((f) => f.connections) });
  scrapeCounter(registry, { name: 'realmgw_forward_packets_total', help: 'Packets of a static forward\'s connections, both directions.', labelNames, read: series((f) => f.packets) });
  scrapeCounter(registry, { name: 'realmgw_forward_bytes_total', help: 'Bytes of a static forward\'s connections, both directions.', labelNames, read: series((f) => f.bytes) });
}

export function registerRelayMetrics(registry: Registry, s: MetricSources): void {
  const r = () => s.relay();
  scrapeCounter(registry, { name: 'realmgw_proxy_accepted_total', help: 'Connections accepted by the proxy_required relay.', read: () => one(r()?.accepted) });
  scrapeGauge(registry, { name: 'realmgw_proxy_connections', help: 'Relay connections holding a slot now.', read: () => one(r()?.active) });
  scrapeGauge(registry, { name: 'realmgw_proxy_sources', help: 'Sources holding at least one relay slot now.', read: () => one(r()?.sources) });
  scrapeCounter(registry, { name: 'realmgw_proxy_relayed_total', help: 'Connections relayed to their upstream, by listener kind (http, tls).', labelNames: ['kind'], read: () => by('kind', r()?.relayed) });
  scrapeCounter(registry, { name: 'realmgw_proxy_refused_total', help: 'Relay connections refused, by reason.', labelNames: ['reason'], read: () => by('reason', r()?.refused) });
  scrapeCounter(registry, { name: 'realmgw_proxy_abandoned_total', help: 'Relay clients gone before their connection was relayed or refused.', read: () => one(r()?.abandoned) });
  scrapeCounter(registry, { name: 'realmgw_proxy_idle_closed_total', help: 'Relay connections closed for idleness.', read: () => one(r()?.idleClosed) });
  scrapeCounter(registry, {
    name: 'realmgw_proxy_bytes_total',
    help: 'Bytes relayed, by direction (to_upstream, to_client).',
    labelNames: ['direction'],
    read: () => {
      const b = r()?.bytes;
      return b ? by('direction', { to_upstream: b.toUpstream, to_client: b.toClient }) : [];
    },
  });
  scrapeGauge(registry, { name: 'realmgw_proxy_peak_buffered_bytes', help: 'The largest write buffer the relay has held on one socket.', read: () => one(r()?.peakBuffered) });
}

export function registerOperatorMetrics(registry: Registry, s: MetricSources): void {
  scrapeCounter(registry, { name: 'realmgw_reloads_total', help: 'Reloads, by outcome (succeeded, failed: nothing changed, unchanged: nothing to change).', labelNames: ['outcome'], read: () => by('outcome', s.ops().reloads) });
  scrapeGauge(registry, { name: 'realmgw_last_reload_success_timestamp_seconds', help: 'When the last successful reload happened (seconds since the epoch; 0: none yet).', read: () => one(s.ops().lastReloadSuccessSeconds) });
  scrapeCounter(registry, { name: 'realmgw_drift_checks_total', help: 'Verifications of realmgw\'s kernel state.', read: () => one(s.ops().drift.checks) });
  scrapeCounter(registry, { name: 'realmgw_drift_found_total', help: 'Verifications that found realmgw\'s kernel state missing or changed.', read: () => one(s.ops().drift.found) });
  scrapeCounter(registry, {
    name: 'realmgw_drift_repairs_total',
    help: 'Repairs of drifted kernel state, by outcome.',
    labelNames: ['outcome'],
    read: () => by('outcome', { succeeded: s.ops().drift.repaired, failed: s.ops().drift.repairFailed }),
  });
  scrapeGauge(registry, { name: 'realmgw_ready', help: '1 when the gateway is ready for traffic (/readyz answers 200), else 0.', read: () => one(s.readiness().ready ? 1 : 0) });
  scrapeGauge(registry, {
    name: 'realmgw_readiness_condition',
    help: 'Each readiness condition (started, kernel, dns): 1 when true.',
    labelNames: ['condition'],
    read: () => Object.entries(s.readiness().conditions).map(([condition, c]): Sample => [{ condition }, c.ok ? 1 : 0]),
  });
  scrapeGauge(registry, { name: 'realmgw_build_info', help: 'Always 1; the version of realmgw and of Node.js as labels.', labelNames: ['version', 'nodejs_version'], read: () => [[{ version: s.version, nodejs_version: process.versions.node }, 1]] });
}
