/**
 * May this query take a pool address? Realm Gateway's allocation policy (pbra.py, _unified_policy_circularpool),
 * rewritten, plus a per-requester budget of realmgw's own. Pure.
 *
 * 1. Budget. limit = max(1, floor(share * poolSize)), and at most `max` when set. A requester already holding
 *    `limit` live reservations is refused ('budget'), whatever its reputation: no single party can hold the
 *    whole pool, which reputation alone cannot prevent while a flood's reservations are still young.
 * 2. Tiers. load = allocated addresses / pool size in %, clamped to 0..100. Every tier with
 *    loadMin <= load <= loadMax is tried (where rows meet, both apply). With best = the highest reputation of
 *    any party known (never below the two parties' own):
 *        g = group reputation / best,  r = requester reputation / best        (both in 0..1)
 *        combined = min(g, r) | max(g, r) | (g + r) / 2                       (the row's math)
 *    and the query passes when combined >= the row's threshold for its kind (fqdnNew, sfqdnNew or sfqdnReuse;
 *    compared with a 1e-9 tolerance so that 0.45 stored as 0.44999... still meets 0.45). No passing row:
 *    refused ('tier'). If best is 0, g = r = 0.
 *    Normalising lets the best-behaved parties reach the top rows even when nobody's absolute score is near 1.
 *    Realm Gateway's code multiplies by best instead of dividing (value * max_reputation), which shrinks every
 *    score and contradicts its own comment ("unlock resource access to the best reputed nodes"); realmgw
 *    divides, as the comment means.
 * 3. Kind (decided by the caller): fqdn_new for a host name (protocol 0 and port 0); for a service name,
 *    sfqdn_reuse when the pool would overload an address already reserved for other flow keys, else sfqdn_new.
 *
 * What `sla` grants, as in Realm Gateway: the group's EDNS Client Subnet is believed, so the requester is the
 * client's subnet (its own reputation and its own budget, and the reservation may be bound to that subnet -
 * Realm Gateway's dns_bind), and a reservation that expires unused is blamed on that client only, not on the
 * group. sla does not skip the tiers or the budget: Realm Gateway applied its SYSTEM_LOAD rows to SLA groups
 * too. Without sla, the requester is the resolver address and an unused reservation is blamed on both the group
 * and that address (Realm Gateway blamed the group only, but there it had no requester; here a clean requester
 * score would otherwise cover for the group in `max` rows).
 */
import type { RequestKind, Tier } from './model.js';

export type Admission = { ok: true } | { ok: false; reason: 'tier' | 'budget' };

const TOLERANCE = 1e-9;

/**
 * The kind of a request, as Realm Gateway decides it: a host name (protocol 0 and port 0) is fqdn_new; a
 * service name with both protocol and port is sfqdn_reuse when the pool would put it on an address already
 * reserved for other flow keys (`overloadsAddress`), else sfqdn_new; a service name with only a protocol
 * (ICMP, or any port) is always sfqdn_new.
 */
export function requestKind(service: { protocol: number; port: number }, overloadsAddress: boolean): RequestKind {
  if (service.protocol === 0 && service.port === 0) return 'fqdn_new';
  return service.protocol !== 0 && service.port !== 0 && overloadsAddress ? 'sfqdn_reuse' : 'sfqdn_new';
}

export function budgetLimit(budget: { share: number; max?: number }, poolSize: number): number {
  const bySize = Math.max(1, Math.floor(budget.share * poolSize));
  return budget.max === undefined ? bySize : Math.min(bySize, budget.max);
}

export function combine(math: Tier['math'], g: number, r: number): number {
  return math === 'min' ? Math.min(g, r) : math === 'max' ? Math.max(g, r) : (g + r) / 2;
}

export function thresholdOf(tier: Tier, kind: RequestKind): number {
  return kind === 'fqdn_new' ? tier.fqdnNew : kind === 'sfqdn_new' ? tier.sfqdnNew : tier.sfqdnReuse;
}

export interface TierInput {
  kind: RequestKind;
  loadPercent: number;
  groupReputation: number;
  requesterReputation: number;
  best: number;
}

/** Whether some row for this load lets the query through (step 2 of the header). */
export function passesTiers(tiers: readonly Tier[], q: TierInput): boolean {
  const load = Math.min(100, Math.max(0, q.loadPercent));
  const best = Math.max(q.best, q.groupReputation, q.requesterReputation);
  const g = best > 0 ? q.groupReputation / best : 0;
  const r = best > 0 ? q.requesterReputation / best : 0;
  for (const tier of tiers) {
    if (load < tier.loadMin || load > tier.loadMax) continue;
    if (combine(tier.math, g, r) + TOLERANCE >= thresholdOf(tier, q.kind)) return true;
  }
  return false;
}

export interface AdmitQuestion extends TierInput {
  requesterHeld: number;
  poolSize: number;
}

export function decide(tiers: readonly Tier[], budget: { share: number; max?: number }, q: AdmitQuestion): Admission {
  if (q.requesterHeld >= budgetLimit(budget, q.poolSize)) return { ok: false, reason: 'budget' };
  return passesTiers(tiers, q) ? { ok: true } : { ok: false, reason: 'tier' };
}
