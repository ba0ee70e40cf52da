/**
 * What `compile` makes of the input files: everything `run`, `check`, `rules` and `cleanup` consume, built
 * once. Plain data except the views (zone trees), so that two compilations can be compared part by part:
 * a reload compiles the files again and applies only the parts that changed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from '../config/load-config.js';
import type { WorkersSection } from '../config/schema.js';
import type { View } from '../dns/authority/views.js';
import type { DataplaneModel } from '../dataplane/model.js';
import type { RenderedRuleset } from '../dataplane/ruleset.js';
import type { PbraSettings } from '../pbra/index.js';
import type { PolicySet } from '../policy/index.js';
import type { WorkersConfig } from '../workers/config.js';
import type { Zone } from '../zones/index.js';
import type { ProxySection } from '../proxy/schema.js';
import type { ProxiedName } from '../proxy/targets.js';

export interface CompiledGateway {
  config: GatewayConfig;
  zones: Zone[];
  policies: PolicySet;
  /**
   * The WAN and LAN answers. Derived from zones, policies and the pool, so they take no part in comparisons;
   * the running gateway hangs the workers' names on them (`View.dynamic`).
   */
  views: { wan: View; lan: View };
  /** Absent without a `dataplane:` section: realmgw then runs DNS only and installs nothing in the kernel. */
  kernel?: CompiledKernel;
  workers?: CompiledWorkers;
  pbra?: CompiledPbra;
  /** Absent without a `proxy:` section (then no name is proxy_required). */
  proxy?: CompiledProxy;
}

/** The relay's settings and the names it may carry, each to its host. */
export interface CompiledProxy {
  section: ProxySection;
  serviceAddress: string;
  names: ProxiedName[];
}

/** The model and exactly what `run` installs and `rules` prints. */
export interface CompiledKernel {
  model: DataplaneModel;
  ruleset: RenderedRuleset;
}

export interface CompiledWorkers {
  section: WorkersSection;
  /** The registry's view of the section. */
  registry: WorkersConfig;
  /** The zone the workers' names are published in. */
  zone: string;
}

export interface CompiledPbra {
  settings: PbraSettings;
  /** Where the one-time CNAME aliases live when the section names no zone. */
  aliasZone: string;
  /** The server-cookie secret read from `cookies.secretFile`; absent = a random one per start. */
  cookieSecret?: Buffer;
}

/** The parts `compiledDifferences` tells apart; `config` is every setting not in another part. */
export type CompiledPart = 'config' | 'zones' | 'policies' | 'kernel' | 'workers' | 'pbra' | 'proxy';

/**
 * The parts in which `b` differs from `a`, in a fixed order; none when they compile to the same gateway.
 * Zones and policies compare with their file names and line numbers (what problems are reported against).
 */
export function compiledDifferences(a: CompiledGateway, b: CompiledGateway): CompiledPart[] {
  const parts: Record<CompiledPart, (c: CompiledGateway) => unknown> = {
    config: (c) => ({ ...c.config, pbra: undefined, workers: undefined, dataplane: undefined, proxy: undefined }),
    zones: (c) => c.zones,
    policies: (c) => c.policies,
    kernel: (c) => c.kernel,
    workers: (c) => c.workers,
    pbra: (c) => c.pbra,
    proxy: (c) => c.proxy,
  };
  return (Object.keys(parts) as CompiledPart[]).filter((p) => !isDeepStrictEqual(parts[p](a), parts[p](b)));
}
