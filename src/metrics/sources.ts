/**
 * What /metrics reads, as plain getters: the gateway hands these over (gateway.ts) and the registry reads them at
 * scrape time only. Getters rather than objects because a part may come and go (the data plane stops, a reload
 * swaps what it owns): each scrape sees whatever is there now. Tests hand in fakes.
 */
import type { DnsMetrics } from '../dns/metrics.js';
import type { GateStats } from '../dns/admission/allocation-gate.js';
import type { DataplaneStats } from '../dataplane/confirmation.js';
import type { ForwardStats } from '../forwards/counters.js';
import type { OperatorCounters } from '../ops/operator-counters.js';
import type { ConditionState } from '../ops/readiness.js';
import type { PoolStats } from '../pool/circular-pool.js';
import type { HistogramSnapshot } from '../pool/lag-histogram.js';
import type { RelayStats } from '../proxy/relay.js';
import type { WorkersView } from '../workers/view-model.js';

export type DnsCounts = Omit<DnsMetrics, 'countRcode' | 'snapshot'>;

export interface MetricSources {
  /** Realmgw's version (package.json), for realmgw_build_info. */
  version: string;
  dns(): { wan: DnsCounts; lan?: DnsCounts };
  pool(): { stats: PoolStats; size: number; confirmationLag: HistogramSnapshot };
  /** The WAN allocation gate's counters; undefined without `pbra:`. */
  defences(): GateStats | undefined;
  /** Undefined without a data plane. */
  dataplane(): DataplaneStats | undefined;
  workers(): WorkersView | undefined;
  relay(): RelayStats | undefined;
  /** The static forwards with the counters read by the last refresh(). */
  forwards(): readonly ForwardStats[];
  ops(): OperatorCounters;
  readiness(): { ready: boolean; conditions: Record<string, ConditionState> };
  /**
   * Reads what only the kernel knows (nftset's refusal counters, the leases' and forwards' counters) before a
   * scrape: on demand, never on a timer (`nft list` holds nf_tables' lock while it dumps).
   */
  refresh(): Promise<void>;
}
