// Settings for PBRA tests: the demo tiers, small memory bounds, groups given as text.
import { parseCidr } from '../../src/util/cidr.js';
import { DEMO_TIERS, type Cidr, type GroupSpec, type PbraSettings } from '../../src/pbra/model.js';
import { DEFAULT_PROOFS } from '../../src/pbra/settings.js';

export const PERIOD = 20_000;

export function group(name: string, nodes: string[], sla = false, initialReputation = 0.45): GroupSpec {
  return { name, nodes: nodes.map((n) => parseCidr(n) as Cidr), sla, initialReputation };
}

export function settings(over: Partial<PbraSettings> = {}): PbraSettings {
  return {
    proofs: { ...DEFAULT_PROOFS },
    logUntrusted: false,
    cname: { windowMs: 5000, maxPending: 100 },
    cookies: { rotateMs: 3_600_000 },
    periodMs: PERIOD,
    groups: [],
    tiers: DEMO_TIERS.map((t) => ({ ...t })),
    requesterBudget: { share: 0.5 },
    ecsPrefixIpv4: 24,
    maxTrackedRequesters: 100,
    maxTrackedResolvers: 100,
    ...over,
  };
}
