/**
 * Node's own metrics (process_* CPU, memory, file descriptors, start time; nodejs_* event-loop lag, heap, GC)
 * from prom-client's default collectors, in one registry per process: they describe the process, not a gateway,
 * and their event-loop monitor and GC observer are never switched off, so they are started once, on the first
 * scrape, rather than once per gateway a test builds. The three gauges that end in `_total` are left out.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

export function processRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // Gauges named like counters, which promtool refuses; nodejs_active_handles etc. carry the same numbers.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  return registry;
}
