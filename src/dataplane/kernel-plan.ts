/**
 * What KernelState.install changes, decided without touching the kernel (pure): from a survey of what the
 * kernel holds and the rendered ruleset, what to add, what to replace and what to remove. Ownership is by
 * name (kernel-state.ts); whatever is not named as ours is never in a plan.
 */
import { ipsetPrefix, type IpsetSpec } from './ipset.js';
import { planIptables, type IptablesJump, type IptablesPlan, type SavedTable } from './iptables.js';
import type { RenderedRuleset } from './ruleset.js';

/** What the kernel holds that install() decides on. */
export interface KernelSurvey {
  /** ipset name -> type; undefined when the ipset tool is not installed. */
  ipsets: Map<string, string> | undefined;
  /** Every iptables table; undefined when iptables is not installed. */
  iptables: SavedTable[] | undefined;
  /** Whether our nft table is there. */
  table: boolean;
}

export interface InstallPlan {
  /** State of an earlier realmgw (killed with SIGKILL) that the plan replaces, for the log. */
  leftovers: string[];
  /**
   * ipsets of ours whose type differs from the wanted one: such a set cannot be refilled in place, so
   * everything of ours is removed first and the plan is made again from a new survey.
   */
  mismatched: string[];
  /** Created if missing, refilled (one `ipset restore`). */
  ipsets: IpsetSpec[];
  /** One nft transaction that replaces any earlier copy of our table. */
  nft: string;
  /** Our chains and exactly one jump from each builtin chain; stale chains and jumps of ours removed. */
  iptables: IptablesPlan;
  /** Jumps that must be present exactly once afterwards (checked after applying). */
  jumps: IptablesJump[];
  /** ipsets of ours that are no longer wanted: destroyed last, once no rule of ours refers to them. */
  staleIpsets: string[];
}

/** Throws (with the reason) when a tool the ruleset needs is not installed. */
export function planInstall(survey: KernelSurvey, r: RenderedRuleset, names: { table: string; prefix: string }): InstallPlan {
  const { ipsets: sets, iptables: saved } = survey;
  if (r.ipsets.length && !sets) throw new Error('the ipset tool is not installed');
  if (r.chains.length && !saved) throw new Error('iptables is not installed');
  const ourSet = (n: string) => n.startsWith(ipsetPrefix(names.prefix));
  const leftovers = [
    ...(survey.table ? [`nft table ip ${names.table}`] : []),
    ...(saved ?? []).flatMap((t) => [...t.chains.keys()].filter((c) => c.startsWith(`${names.prefix}-`)).map((c) => `iptables chain ${t.name}/${c}`)),
    ...[...(sets?.keys() ?? [])].filter(ourSet).map((n) => `ipset ${n}`),
  ];
  const wanted = new Set(r.ipsets.map((s) => s.name));
  return {
    leftovers,
    mismatched: r.ipsets.filter((s) => sets?.has(s.name) && sets.get(s.name) !== s.type).map((s) => s.name),
    ipsets: r.ipsets,
    nft: r.nft,
    iptables: planIptables(saved ?? [], names.prefix, { mangle: r.iptables.mangle, filter: r.iptables.filter, jumps: r.jumps, chains: r.chains }),
    jumps: r.jumps,
    staleIpsets: [...(sets?.keys() ?? [])].filter((n) => ourSet(n) && !wanted.has(n)),
  };
}
