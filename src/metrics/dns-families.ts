/**
 * The DNS front's counters (dns/metrics.ts, one DnsMetrics per view) as Prometheus metrics, labelled by view.
 * The table says which field feeds which series, so a new field needs one row here and one in the README.
 */
import type { Registry } from 'prom-client';
import type { DnsCounts, MetricSources } from './sources.js';
import { scrapeCounter, type Labels, type Sample } from './scrape-metrics.js';

type Field = Exclude<keyof DnsCounts, 'rcodes'>;

interface Family {
  name: string;
  help: string;
  /** The label (besides view) and, per field, its value; no label: one field. */
  label?: string;
  fields: Partial<Record<Field, string>>;
  /** A view only (the LAN view never allocates, the WAN view never forwards); default both. */
  only?: 'wan' | 'lan';
}

const FAMILIES: Family[] = [
  { name: 'realmgw_dns_queries_total', help: 'DNS queries received, by view and transport.', label: 'transport', fields: { queriesUdp: 'udp', queriesTcp: 'tcp' } },
  {
    name: 'realmgw_dns_dropped_total',
    help: 'DNS queries left unanswered, by reason (unparsable header, client not allowed in the view, response-rate limited, pool exhausted over UDP).',
    label: 'reason',
    fields: { dropped: 'unparsable', clientNotAllowed: 'client_not_allowed', rrlDropped: 'rrl', exhaustedUdpDropped: 'pool_exhausted' },
  },
  { name: 'realmgw_dns_malformed_total', help: 'Malformed DNS queries answered FORMERR or NOTIMP.', fields: { malformed: '' } },
  { name: 'realmgw_dns_truncated_total', help: 'WAN answers replaced by a truncated (TC=1) reply by response-rate limiting (slip).', label: 'reason', only: 'wan', fields: { rrlSlipped: 'rrl_slip' } },
  { name: 'realmgw_dns_cache_hits_total', help: 'DNS answers served from the encoded-answer cache.', fields: { cacheHits: '' } },
  { name: 'realmgw_dns_allocations_total', help: 'DNS answers that reserved a pool address.', only: 'wan', fields: { allocations: '' } },
  {
    name: 'realmgw_dns_allocation_refusals_total',
    only: 'wan',
    help: 'Allocating queries that got no reservation, by reason (pool exhausted or host limit over UDP / TCP, kernel install failed, unproven requester challenged, refused by reputation tier or budget, the gateway draining on stop).',
    label: 'reason',
    fields: { exhaustedUdpDropped: 'exhausted_udp', exhaustedTcpEmpty: 'exhausted_tcp', kernelFailed: 'kernel_failed', challenged: 'challenged', policyRefused: 'policy', drainingRefused: 'draining' },
  },
  { name: 'realmgw_dns_tcp_retry_succeeded_total', help: 'Allocations that succeeded on the TCP retry after an exhausted pool.', only: 'wan', fields: { tcpRetrySucceeded: '' } },
  { name: 'realmgw_dns_forwarded_total', help: 'LAN queries answered by an upstream resolver.', only: 'lan', fields: { forwarded: '' } },
  {
    name: 'realmgw_dns_forward_failures_total',
    only: 'lan',
    help: 'LAN forwarding failures: a try without usable reply (attempt), a query no upstream answered (query, SERVFAIL), a query refused while maxInFlight forwards waited (busy, SERVFAIL).',
    label: 'kind',
    fields: { forwardAttemptsFailed: 'attempt', forwardFailed: 'query', forwardRefusedBusy: 'busy' },
  },
  { name: 'realmgw_dns_handler_errors_total', help: 'Errors while handling one query (logged, throttled).', fields: { handlerErrors: '' } },
  { name: 'realmgw_dns_tcp_connections_total', help: 'DNS TCP connections accepted.', fields: { tcpConnections: '' } },
  {
    name: 'realmgw_dns_tcp_refused_total',
    help: 'DNS TCP connections refused at accept, by cap (tcpMaxConnections, tcpMaxConnectionsPerSource).',
    label: 'reason',
    fields: { tcpRejected: 'max_connections', tcpRejectedPerSource: 'per_source' },
  },
  {
    name: 'realmgw_dns_tcp_closed_total',
    help: 'DNS TCP connections closed by realmgw, by reason (tcpMaxLifetimeMs, tcpIdleTimeoutMs, framing error).',
    label: 'reason',
    fields: { tcpLifetimeClosed: 'lifetime', tcpIdleClosed: 'idle', tcpFramingErrors: 'framing_error' },
  },
  { name: 'realmgw_dns_tcp_paused_total', help: 'Times a DNS TCP connection stopped being read because its unsent answers reached tcpMaxQueuedBytes.', fields: { tcpPausedForBacklog: '' } },
];

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADVERS',
  23: 'BADCOOKIE',
};

export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? `RCODE${rcode}`;

function views(sources: MetricSources): [string, DnsCounts][] {
  const { wan, lan } = sources.dns();
  return lan ? [['wan', wan], ['lan', lan]] : [['wan', wan]];
}

export function registerDnsMetrics(registry: Registry, sources: MetricSources): void {
  for (const f of FAMILIES) {
    const labelNames = f.label ? ['view', f.label] : ['view'];
    scrapeCounter(registry, {
      name: f.name,
      help: f.help,
      labelNames,
      read: function* (): Iterable<Sample> {
        for (const [view, counts] of views(sources)) {
          if (f.only && f.only !== view) continue;
          for (const [field, value] of Object.entries(f.fields) as [Field, string][]) {
            const labels: Labels = f.label ? { view, [f.label]: value } : { view };
            yield [labels, counts[field]];
          }
        }
      },
    });
  }
  scrapeCounter(registry, {
    name: 'realmgw_dns_responses_total',
    help: 'DNS responses sent, by view and rcode (forwarded LAN answers with the upstream rcode).',
    labelNames: ['view', 'rcode'],
    read: function* () {
      for (const [view, counts] of views(sources)) {
        for (const [rcode, n] of Object.entries(counts.rcodes)) yield [{ view, rcode: rcodeName(Number(rcode)) }, n];
      }
    },
  });
}
