/**
 * `realmgw stats` for people: the admin socket's /stats (gateway.ts) as one line per part of the gateway,
 * the figures an operator looks at first. Everything else stays in `--json`, which is /stats itself. Pure.
 */
import type { DataplaneStats, ConfirmLag } from '../dataplane/confirmation.js';
import type { DnsMetrics } from '../dns/metrics.js';
import type { GateStats } from '../dns/admission/allocation-gate.js';
import type { ForwardStats } from '../forwards/counters.js';
import type { PoolStats } from '../pool/circular-pool.js';
import type { RelayStats } from '../proxy/relay.js';
import { alignColumns } from '../util/columns.js';
import { formatBytes } from '../workers/api/view.js';

type DnsCounters = Omit<DnsMetrics, 'countRcode' | 'snapshot'>;

/** The shape of GET /stats. */
export interface StatsView {
  dns: { wan: DnsCounters; lan: DnsCounters };
  pool: PoolStats & { size: number };
  defences: GateStats | null;
  dataplane: (DataplaneStats & { confirm: string; confirmLagMs: ConfirmLag | null }) | null;
  proxy: RelayStats | null;
  forwards: ForwardStats[];
}

const list = (pairs: [string, number][]) => pairs.map(([k, v]) => `${k} ${v}`).join(', ');
const sum = (o: { [k: string]: number }) => Object.values(o).reduce((a, b) => a + b, 0);

function dnsLine(d: DnsCounters, side: 'wan' | 'lan'): string {
  const queries = `${d.queriesUdp + d.queriesTcp} queries (udp ${d.queriesUdp}, tcp ${d.queriesTcp})`;
  const common: [string, number][] = [['dropped', d.dropped], ['malformed', d.malformed]];
  if (side === 'lan') return `${queries}, ${list([['forwarded', d.forwarded], ['forward failures', d.forwardFailed], ...common])}`;
  return `${queries}, ${list([['allocations', d.allocations], ['challenged', d.challenged], ['policy refused', d.policyRefused], ['pool exhausted', d.exhaustedUdpDropped + d.exhaustedTcpEmpty], ['rrl dropped', d.rrlDropped], ...common])}`;
}

function dataplaneLine(d: StatsView['dataplane']): string {
  if (!d) return 'off (no dataplane section: DNS only)';
  const lag = d.confirmLagMs ? `, confirm lag p50 ${d.confirmLagMs.p50} ms p99 ${d.confirmLagMs.p99} ms` : '';
  return `${d.confirm}: ${list([['confirmed', d.confirmed], ['refused', d.refused], ['stolen refused', d.stolenRefused], ['handshake refused', d.handshakeRefused], ['kernel op failures', d.kernelOpFailures]])}${lag}`;
}

function defencesLine(g: GateStats | null): string {
  if (!g) return 'off (no pbra section)';
  return `proofs ${sum(g.proofs)}, challenges ${sum(g.challenges)}, refused ${list(Object.entries(g.refused) as [string, number][])}`;
}

function proxyLine(p: RelayStats | null): string {
  if (!p) return 'off (no proxy section)';
  return `${list([['accepted', p.accepted], ['active', p.active], ['relayed', sum(p.relayed)], ['refused', sum(p.refused)]])}, bytes ${formatBytes(p.bytes.toUpstream)} up / ${formatBytes(p.bytes.toClient)} down`;
}

function forwardsLine(f: ForwardStats[]): string {
  if (f.length === 0) return 'none';
  const total = (k: 'connections' | 'packets' | 'bytes') => f.reduce((n, x) => n + (x[k] ?? 0), 0);
  return `${f.length} rule${f.length === 1 ? '' : 's'}: connections ${total('connections')}, packets ${total('packets')}, ${formatBytes(total('bytes'))} (realmgw forwards)`;
}

export function formatStats(s: StatsView): string {
  const p = s.pool;
  return alignColumns([
    ['dns wan', dnsLine(s.dns.wan, 'wan')],
    ['dns lan', dnsLine(s.dns.lan, 'lan')],
    ['pool', `${p.size} addresses, ${p.live} live; ${list([['reserved', p.reserved], ['consumed', p.consumed], ['expired', p.expired], ['cancelled', p.cancelled], ['exhausted', p.exhausted], ['host-limited', p.hostLimited]])}`],
    ['data plane', dataplaneLine(s.dataplane)],
    ['defences', defencesLine(s.defences)],
    ['proxy', proxyLine(s.proxy)],
    ['forwards', forwardsLine(s.forwards)],
  ]);
}
