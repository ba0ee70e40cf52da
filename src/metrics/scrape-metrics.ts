/**
 * Metrics whose values are read from realmgw's own counters when a scrape asks, so that counting stays a plain
 * increment on the hot path. prom-client's Counter and Gauge only accumulate what they are told, and a label-less
 * one always prints a 0 even for a part that is not configured; so each metric here is a small collector of its
 * own that prom-client's registry formats (escaping, HELP/TYPE, the text format) like any other. A counter read
 * this way is whatever realmgw counted since it started (a restart resets it, as Prometheus expects).
 */
import type { Registry } from 'prom-client';
import type { HistogramSnapshot } from '../pool/lag-histogram.js';

export type Labels = Record<string, string>;
/** One series: its labels and value. */
export type Sample = readonly [Labels, number];
export type Read = () => Iterable<Sample>;

interface Spec {
  name: string;
  help: string;
  labelNames?: readonly string[];
  read: Read;
}

interface Value {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function register(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Value[]): void {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    reset: () => undefined,
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: values() }),
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}

function samples({ name, labelNames = [], read }: Spec): () => Value[] {
  for (const l of labelNames) if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`${name}: invalid label name ${l}`);
  const expected = [...labelNames].sort().join(',');
  return () =>
    Array.from(read(), ([labels, value]) => {
      // a series with other labels than declared is a bug here, not something to publish
      if (Object.keys(labels).sort().join(',') !== expected) throw new Error(`${name}: labels ${Object.keys(labels).join(',')} instead of ${expected}`);
      return { labels, value };
    });
}

export function scrapeCounter(registry: Registry, spec: Spec): void {
  register(registry, spec.name, spec.help, 'counter', samples(spec));
}

export function scrapeGauge(registry: Registry, spec: Spec): void {
  register(registry, spec.name, spec.help, 'gauge', samples(spec));
}

/** A histogram whose buckets realmgw counts itself (pool/lag-histogram.ts); bounds in ms, the metric in seconds. */
export function scrapeHistogramMs(registry: Registry, name: string, help: string, read: () => HistogramSnapshot): void {
  register(registry, name, help, 'histogram', () => {
    const h = read();
    const values: Value[] = [];
    let cumulative = 0;
    h.bounds.forEach((bound, i) => {
      cumulative += h.counts[i] ?? 0;
      values.push({ metricName: `${name}_bucket`, labels: { le: bound / 1000 }, value: cumulative });
    });
    values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
    values.push({ metricName: `${name}_sum`, labels: {}, value: h.sum / 1000 });
    values.push({ metricName: `${name}_count`, labels: {}, value: h.count });
    return values;
  });
}
