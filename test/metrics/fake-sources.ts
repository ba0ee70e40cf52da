/** MetricSources from plain numbers, for the metrics unit tests (not a test file). */
import { DnsMetrics } from '../../src/dns/metrics.js';
import { emptyStats } from '../../src/dataplane/confirmation.js';
import { emptyOperatorCounters } from '../../src/ops/operator-counters.js';
import { LagHistogram } from '../../src/pool/lag-histogram.js';
import type { MetricSources } from '../../src/metrics/sources.js';

export interface Fakes {
  wan: DnsMetrics;
  lan: DnsMetrics;
  lag: LagHistogram;
  ready: boolean;
  refreshes: number;
}

/** Every part present unless `parts` leaves it out; the returned `fakes` may be changed between scrapes. */
export function fakeSources(parts: { lan?: boolean; defences?: boolean; dataplane?: boolean; workers?: boolean; relay?: boolean; forwards?: boolean } = {}): { sources: MetricSources; fakes: Fakes } {
  const has = (k: keyof typeof parts) => parts[k] !== false;
  const fakes: Fakes = { wan: new DnsMetrics(), lan: new DnsMetrics(), lag: new LagHistogram(), ready: false, refreshes: 0 };
  const ops = emptyOperatorCounters();
  ops.reloads.succeeded = 2;
  ops.reloads.failed = 1;
  ops.drift.repaired = 1;
  const sources: MetricSources = {
    version: '9.8.7',
    dns: () => (has('lan') ? { wan: fakes.wan, lan: fakes.lan } : { wan: fakes.wan }),
    pool: () => ({ stats: { reserved: 10, consumed: 6, expired: 3, cancelled: 1, exhausted: 4, hostLimited: 2, flows: 7, live: 0 }, size: 3, confirmationLag: fakes.lag.snapshot() }),
    defences: () =>
      has('defences') ? { challenges: { tc: 5, badcookie: 4, cname: 0 }, proofs: { tcp: 3, cookie: 2, cname: 0 }, refused: { unproven: 1, tier: 2, budget: 3 }, cookiesInvalid: 0, aliasesUnknown: 0, bound: 1 } : undefined,
    dataplane: () => (has('dataplane') ? { ...emptyStats(), confirmed: 6, refused: 5, stolenRefused: 1, handshakeRefused: 2, kernelOps: 4, kernelOpFailures: 1 } : undefined),
    workers: () =>
      has('workers')
        ? {
            publicAddress: '100.64.1.130',
            workers: [{ name: 'worker1', address: '10.200.0.11', lastSeen: 0, leases: [{ endpoint: '10053/tcp->100.64.1.130:20417', protocol: 'tcp', port: 10053, publicPort: 20417, counters: { connections: 2, packetsIn: 11, packetsOut: 12, bytesIn: 1100, bytesOut: 1200 } }], totals: { connections: 2, packetsIn: 11, packetsOut: 12, bytesIn: 1100, bytesOut: 1200 } }],
          }
        : undefined,
    relay: () =>
      has('relay')
        ? {
            accepted: 3,
            active: 1,
            sources: 1,
            relayed: { http: 2, tls: 1 },
            refused: { connectionCap: 0, sourceCap: 0, headerTimeout: 0, oversized: 0, malformed: 0, noName: 0, unknownName: 1, upstreamFailed: 0, upstreamTimeout: 0 },
            abandoned: 0,
            idleClosed: 0,
            bytes: { toUpstream: 100, toClient: 200 },
            peakBuffered: 64,
          }
        : undefined,
    forwards: () => (has('forwards') ? [{ name: 'ssh-a', protocol: 'tcp', public: '100.64.1.130:2222', private: '192.168.0.100:22', mode: 'dnat', allowFrom: 0, connections: 1, packets: 600, bytes: 40_000 }] : []),
    ops: () => ops,
    readiness: () => ({ ready: fakes.ready, conditions: { started: { ok: true, reason: 'started', since: 1 }, dns: { ok: fakes.ready, reason: fakes.ready ? 'listening' : 'not listening yet', since: 2 } } }),
    refresh: () => {
      fakes.refreshes++;
      return Promise.resolve();
    },
  };
  return { sources, fakes };
}
