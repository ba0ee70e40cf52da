/**
 * The gateway's Prometheus registry (its own, never prom-client's global one), built once per gateway on the
 * sources it is handed, and the three answers an operator's tools ask for: /metrics, /healthz, /readyz. Served
 * by the admin socket and, opt-in, by the metrics listener (listener.ts), from the same routes.
 */
import { Registry } from 'prom-client';
import { TextReply } from '../admin/text-reply.js';
import { registerDnsMetrics } from './dns-families.js';
import {
  registerDataplaneMetrics,
  registerDefenceMetrics,
  registerForwardMetrics,
  registerOperatorMetrics,
  registerPoolMetrics,
  registerRelayMetrics,
  registerWorkerMetrics,
} from './gateway-families.js';
import { processRegistry } from './process-metrics.js';
import { readyzReply } from './health.js';
import type { MetricSources } from './sources.js';

export type MetricsRoutes = Record<'/metrics' | '/healthz' | '/readyz', () => Promise<TextReply>>;

export class MetricsEndpoint {
  readonly registry = new Registry();

  constructor(
    private readonly sources: MetricSources,
    private readonly options: { processMetrics?: boolean } = {},
  ) {
    for (const register of [registerDnsMetrics, registerPoolMetrics, registerDefenceMetrics, registerDataplaneMetrics, registerWorkerMetrics, registerForwardMetrics, registerRelayMetrics, registerOperatorMetrics]) {
      register(this.registry, sources);
    }
  }

  /** The text exposition of every metric, the kernel's counters read first. */
  async scrape(): Promise<string> {
    // A failed kernel reading leaves the last values (each source logs its own failure): a scrape still answers.
    await this.sources.refresh().catch(() => undefined);
    const own = await this.registry.metrics();
    return this.options.processMetrics === false ? own : own + '\n' + (await processRegistry().metrics());
  }

  routes(): MetricsRoutes {
    return {
      '/metrics': async () => new TextReply(200, Registry.PROMETHEUS_CONTENT_TYPE, await this.scrape()),
      // Alive: this process answers. Nothing else is asked, so a busy gateway is not restarted for being busy.
      '/healthz': () => Promise.resolve(new TextReply(200, 'text/plain; charset=utf-8', 'ok\n')),
      '/readyz': () => Promise.resolve(readyzReply(this.sources.readiness())),
    };
  }
}
