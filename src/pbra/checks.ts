/**
 * Coherence of tiers and groups, shared by both readers (realmgw's `pbra:` section and Realm Gateway's policy
 * file), which name the same fields differently: `names` maps a model field to the file's key.
 *
 * Tiers must tile loads 0..100 %: sorted by loadMin, the first starts at 0, the last ends at 100, and each row
 * starts exactly where the one before ends. Rows sharing an end point both apply at that load (Realm Gateway
 * tries every row that contains the load, and its demo rows meet at 33, 66 and 99); a gap would refuse every
 * request at those loads and an overlap would make two rows' thresholds race, so both are mistakes.
 */
import { formatCidr, cidrsOverlap } from '../util/cidr.js';
import type { GroupSpec, Tier } from './model.js';

export interface KeyProblem {
  path: (string | number)[];
  reason: string;
}

export type TierField = 'loadMin' | 'loadMax' | 'fqdnNew';

/** Problems of a list of (individually valid) tiers; paths are [rowIndex, fileKey]. */
export function tierProblems(tiers: readonly Tier[], names: Record<TierField, string>): KeyProblem[] {
  const problems: KeyProblem[] = [];
  if (tiers.length === 0) return [{ path: [], reason: 'needs at least one row: with none, every request would be refused' }];
  const span = (t: Tier) => `${t.loadMin}..${t.loadMax}`;
  tiers.forEach((t, i) => {
    if (t.loadMin >= t.loadMax) problems.push({ path: [i, names.loadMax], reason: `must be above ${names.loadMin} (${t.loadMin}): a row covers a range of loads` });
  });
  if (problems.length > 0) return problems;
  const order = tiers.map((t, i) => ({ t, i })).sort((a, b) => a.t.loadMin - b.t.loadMin || a.t.loadMax - b.t.loadMax);
  if (order[0].t.loadMin > 0) problems.push({ path: [order[0].i, names.loadMin], reason: `loads 0..${order[0].t.loadMin} % are covered by no row (every request would be refused there)` });
  const last = order[order.length - 1];
  if (last.t.loadMax < 100) problems.push({ path: [last.i, names.loadMax], reason: `loads ${last.t.loadMax}..100 % are covered by no row (every request would be refused there)` });
  for (let k = 1; k < order.length; k++) {
    const prev = order[k - 1];
    const cur = order[k];
    if (cur.t.loadMin > prev.t.loadMax) {
      problems.push({ path: [cur.i, names.loadMin], reason: `loads ${prev.t.loadMax}..${cur.t.loadMin} % are covered by no row (row [${prev.i}] ends at ${prev.t.loadMax})` });
    } else if (cur.t.loadMin < prev.t.loadMax) {
      problems.push({ path: [cur.i, names.loadMin], reason: `row ${span(cur.t)} overlaps row [${prev.i}] (${span(prev.t)}); rows may only meet at an end point` });
    }
  }
  return problems;
}

/** Node problems across groups: an address or block in two places. Paths are [groupIndex, nodesKey, nodeIndex]. */
export function groupProblems(groups: readonly GroupSpec[], nodesKey: string): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const seen: { g: number; n: number }[] = [];
  groups.forEach((group, g) => {
    group.nodes.forEach((node, n) => {
      const clash = seen.find((s) => cidrsOverlap(groups[s.g].nodes[s.n], node));
      if (clash) {
        const other = groups[clash.g].nodes[clash.n];
        const where = clash.g === g ? `item [${clash.n}] of this group` : `group [${clash.g}] (${groups[clash.g].name})`;
        problems.push({ path: [g, nodesKey, n], reason: `${formatCidr(node)} overlaps ${formatCidr(other)} of ${where}: a resolver belongs to one group` });
      } else {
        seen.push({ g, n });
      }
    });
  });
  const names = new Map<string, number>();
  groups.forEach((group, g) => {
    const first = names.get(group.name);
    if (first !== undefined) problems.push({ path: [g, 'name'], reason: `group name ${JSON.stringify(group.name)} is already used by group [${first}]` });
    else names.set(group.name, g);
  });
  return problems;
}
