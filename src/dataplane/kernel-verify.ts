/**
 * Drift (pure): whether the kernel still holds realmgw's state as it was installed. Debian's nftables.service
 * runs `flush ruleset` on start and reload, which removes every table of every program (iptables-nft's too),
 * and an operator may delete or edit our table by hand; nothing else would notice.
 *
 * What counts, and what does not:
 * - nft: our table's objects (sets, maps, counters, chains) and every chain's rules, in order, compared with a
 *   snapshot taken right after install (the kernel's own spelling on both sides, so nft's rewriting of what we
 *   rendered never looks like drift). Not compared: handles, counter values, and the elements of sets whose
 *   flags say they are filled at run time (`timeout`, `dynamic`: the nftset reservations, their bindings and
 *   DNAT maps). Elements of the other sets (the pool, nfqueue's mark map) are rendered, static, and compared.
 * - iptables: every chain of ours with its rules (snapshot after install) and exactly one copy of each jump
 *   from a builtin chain (rendered, in iptables-save's spelling).
 * - ipsets: each rendered set present with its type (members are refilled by every install, not compared).
 * - nfqueue mode: the queue number bound, by a netlink socket of this process.
 * Nothing outside our names is looked at, so a foreign table's changes are never drift.
 */
import type { IpsetSpec } from './ipset.js';
import type { IptablesJump, SavedTable } from './iptables.js';

/** One thing that is not as installed; `part` tells the repair what to re-establish. */
export interface Drift {
  part: 'nft' | 'iptables' | 'ipset' | 'nfqueue' | 'workers';
  what: string;
}

/** Our nft table reduced to what counts: object key -> canonical JSON, chain -> canonical rules in order. */
export interface NftSnapshot {
  objects: Record<string, string>;
  rules: Record<string, string[]>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Sets whose elements realmgw (or the packet path) adds and removes at run time. */
function filledAtRunTime(set: { [k: string]: Json }): boolean {
  const flags = set.flags;
  const list = Array.isArray(flags) ? flags : typeof flags === 'string' ? [flags] : [];
  return list.includes('timeout') || list.includes('dynamic');
}

/** Stable text of a JSON value: keys sorted, handles dropped, counter values zeroed (they only grow). */
function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const keys = Object.keys(v).filter((k) => k !== 'handle').sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${k === 'packets' || k === 'bytes' ? '0' : canonical(v[k]!)}`).join(',')}}`;
}

function items(jsonText: string): { [k: string]: Json }[] {
  const doc = JSON.parse(jsonText) as { nftables?: unknown };
  if (!Array.isArray(doc.nftables)) throw new Error('nft -j: no "nftables" array in the listing');
  return doc.nftables as { [k: string]: Json }[];
}

/**
 * Reduces `nft -t -j list table ip T` (terse: no set elements, so the listing stays small and quick while
 * reservations come and go) plus `nft -j list set|map ip T S` of each set that is not filled at run time.
 */
export function nftSnapshot(table: string, terse: string, staticSets: readonly string[] = []): NftSnapshot {
  const snap: NftSnapshot = { objects: {}, rules: {} };
  for (const item of items(terse)) {
    for (const kind of ['table', 'set', 'map', 'counter', 'chain', 'rule'] as const) {
      const o = item[kind] as { [k: string]: Json } | undefined;
      if (!o || typeof o !== 'object' || o.family !== 'ip') continue;
      if (kind === 'table') {
        if (o.name === table) snap.objects.table = canonical(o);
        continue;
      }
      if (o.table !== table) continue;
      if (kind === 'rule') (snap.rules[String(o.chain)] ??= []).push(canonical(o.expr ?? null));
      else {
        const { elem: _elements, ...def } = o;
        snap.objects[`${kind} ${String(o.name)}`] = canonical(def);
      }
    }
  }
  for (const text of staticSets) {
    for (const item of items(text)) {
      const o = (item.set ?? item.map) as { [k: string]: Json } | undefined;
      if (!o || typeof o !== 'object' || o.table !== table || filledAtRunTime(o)) continue;
      snap.objects[`elements of ${item.set ? 'set' : 'map'} ${String(o.name)}`] = canonical(o.elem ?? []);
    }
  }
  return snap;
}

/** The sets and maps of a terse listing whose elements are static (to list them with their elements). */
export function staticSetNames(table: string, terse: string): { kind: 'set' | 'map'; name: string }[] {
  const out: { kind: 'set' | 'map'; name: string }[] = [];
  for (const item of items(terse)) {
    for (const kind of ['set', 'map'] as const) {
      const o = item[kind] as { [k: string]: Json } | undefined;
      if (o && typeof o === 'object' && o.table === table && !filledAtRunTime(o)) out.push({ kind, name: String(o.name) });
    }
  }
  return out;
}

/** nft: observed undefined means our table is not there at all. */
export function compareNft(table: string, expected: NftSnapshot, observed: NftSnapshot | undefined, part: Drift['part'] = 'nft'): Drift[] {
  if (!observed || observed.objects.table === undefined) return [{ part, what: `nft table ip ${table} is missing` }];
  const out: Drift[] = [];
  const where = (key: string) => `nft ${key} (table ip ${table})`;
  for (const [key, want] of Object.entries(expected.objects)) {
    const got = observed.objects[key];
    if (got === undefined) out.push({ part, what: `${where(key)} is missing` });
    else if (got !== want) out.push({ part, what: `${where(key)} differs from what was installed` });
  }
  for (const key of Object.keys(observed.objects)) if (!(key in expected.objects)) out.push({ part, what: `${where(key)} was not installed by realmgw` });
  for (const chain of new Set([...Object.keys(expected.rules), ...Object.keys(observed.rules)])) {
    if (observed.objects[`chain ${chain}`] === undefined) continue; // reported as missing above
    const want = expected.rules[chain] ?? [];
    const got = observed.rules[chain] ?? [];
    if (got.length !== want.length) {
      out.push({ part, what: `${where(`chain ${chain}`)} has ${got.length} rules, ${want.length} installed` });
      continue;
    }
    const i = want.findIndex((r, n) => r !== got[n]);
    if (i >= 0) out.push({ part, what: `${where(`chain ${chain}`)}: rule ${i + 1} differs from what was installed` });
  }
  return out;
}

/** Our iptables chains' rules after install: `table/chain` -> rule specifications in order. */
export type IptablesSnapshot = Record<string, string[]>;

export function iptablesSnapshot(saved: readonly SavedTable[], chains: readonly { table: string; chain: string }[]): IptablesSnapshot {
  const out: IptablesSnapshot = {};
  for (const c of chains) {
    const t = saved.find((s) => s.name === c.table);
    if (t?.chains.has(c.chain)) out[`${c.table}/${c.chain}`] = t.rules.filter((r) => r.chain === c.chain).map((r) => r.spec);
  }
  return out;
}

export interface IptablesExpectation {
  chains: readonly { table: string; chain: string }[];
  /** The chains' rules right after install. */
  rules: IptablesSnapshot;
  jumps: readonly IptablesJump[];
}

/** observed undefined: iptables-save is not installed. */
export function compareIptables(expected: IptablesExpectation, observed: readonly SavedTable[] | undefined): Drift[] {
  if (expected.chains.length === 0 && expected.jumps.length === 0) return [];
  if (!observed) return [{ part: 'iptables', what: 'iptables is not installed' }];
  const out: Drift[] = [];
  const now = iptablesSnapshot(observed, expected.chains);
  for (const c of expected.chains) {
    const key = `${c.table}/${c.chain}`;
    const got = now[key];
    if (got === undefined) out.push({ part: 'iptables', what: `iptables chain ${key} is missing` });
    else if (expected.rules[key] && got.join('\n') !== expected.rules[key]!.join('\n')) out.push({ part: 'iptables', what: `iptables chain ${key}: rules differ from what was installed` });
  }
  for (const j of expected.jumps) {
    const n = observed.find((t) => t.name === j.table)?.rules.filter((r) => r.chain === j.chain && r.spec === j.rule).length ?? 0;
    if (n !== 1) out.push({ part: 'iptables', what: `iptables -t ${j.table} '-A ${j.chain} ${j.rule}': ${n === 0 ? 'missing' : `${n} copies`}, expected exactly one` });
  }
  return out;
}

/** observed undefined: the ipset tool is not installed. */
export function compareIpsets(expected: readonly Pick<IpsetSpec, 'name' | 'type'>[], observed: ReadonlyMap<string, string> | undefined): Drift[] {
  if (expected.length === 0) return [];
  if (!observed) return [{ part: 'ipset', what: 'the ipset tool is not installed' }];
  const out: Drift[] = [];
  for (const s of expected) {
    const type = observed.get(s.name);
    if (type === undefined) out.push({ part: 'ipset', what: `ipset ${s.name} is missing` });
    else if (type !== s.type) out.push({ part: 'ipset', what: `ipset ${s.name} is ${type}, installed as ${s.type}` });
  }
  return out;
}

/** The bound queues of /proc/net/netfilter/nfnetlink_queue: queue number -> portid of the bound socket. */
export function parseQueueBindings(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && /^\d+$/.test(f[0]!) && /^-?\d+$/.test(f[1]!)) out.set(Number(f[0]), Number(f[1]));
  }
  return out;
}

/**
 * Portids of the netlink sockets whose inodes are given, from /proc/net/netlink (columns: sk Eth Pid Groups
 * Rmem Wmem Dump Locks Drops Inode; `Pid` is the socket's portid, which is the process id only for its first
 * netlink socket: the kernel picks another number for the next ones).
 */
export function netlinkPortIds(procNetNetlink: string, inodes: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  for (const line of procNetNetlink.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && inodes.has(Number(f[9]))) out.add(Number(f[2]));
  }
  return out;
}

/** nfqueue mode: the queue must be bound, and by a socket of ours (another process may have taken it). */
export function compareQueue(num: number, bindings: ReadonlyMap<number, number>, ourPortIds: ReadonlySet<number>): Drift[] {
  const portId = bindings.get(num);
  if (portId === undefined) return [{ part: 'nfqueue', what: `nfqueue ${num} is not bound` }];
  if (!ourPortIds.has(portId)) return [{ part: 'nfqueue', what: `nfqueue ${num} is bound by netlink portid ${portId}, not by this process` }];
  return [];
}

/** One line for the log and readiness: the first few drifts, and how many more. */
export function describeDrift(drift: readonly Drift[], max = 3): string {
  const head = drift.slice(0, max).map((d) => d.what).join('; ');
  return drift.length > max ? `${head}; and ${drift.length - max} more` : head;
}
