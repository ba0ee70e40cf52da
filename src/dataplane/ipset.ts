/**
 * ipsets realmgw owns: the pool (nfqueue mode: the iptables queue rule matches it) and one per policy GROUP
 * (for the firewall rules). Every name starts with the lowercase prefix and a dash ("rgw-"), which is how
 * leftovers are recognised. Rendering is pure; the effects at the bottom take a Runner.
 */
import { createHash } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '../util/ipv4.js';
import { runChecked, type Runner } from './runner.js';
import type { DataplaneModel } from './model.js';

/** IPSET_MAXNAMELEN is 32 with the terminating NUL. */
export const IPSET_NAME_MAX = 31;

export interface IpsetSpec {
  name: string;
  /** ipset type, e.g. "hash:net". */
  type: string;
  /** Members as `ipset add` takes them (addresses or CIDR blocks), sorted. */
  members: string[];
}

/** "rgw-": what every ipset of ours starts with. */
export function ipsetPrefix(prefix: string): string {
  return `${prefix.toLowerCase()}-`;
}

export function poolIpsetName(model: Pick<DataplaneModel, 'prefix'>): string {
  return `${ipsetPrefix(model.prefix)}pool`;
}

/**
 * ipset of a policy GROUP: "rgw-g-" + the name with characters other than letters, digits, '_', '.', '-'
 * replaced by '_'; names too long for ipset keep a head and get a hash of the full name, so the result is
 * deterministic. Two groups mapping to one name are refused by renderIpsets.
 */
export function groupIpsetName(model: Pick<DataplaneModel, 'prefix'>, group: string): string {
  const head = `${ipsetPrefix(model.prefix)}g-`;
  const clean = group.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (head.length + clean.length <= IPSET_NAME_MAX) return head + clean;
  const hash = createHash('sha1').update(group).digest('hex').slice(0, 6);
  return `${head}${clean.slice(0, IPSET_NAME_MAX - head.length - 7)}-${hash}`;
}

/** Sorted, de-duplicated addresses as inclusive [first, last] runs of consecutive u32s. */
export function addressRanges(addresses: readonly string[]): [number, number][] {
  const sorted = [...new Set(addresses.map(parseIpv4))].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const a of sorted) {
    const last = runs[runs.length - 1];
    if (last && a === last[1] + 1) last[1] = a;
    else runs.push([a, a]);
  }
  return runs;
}

/** The fewest CIDR blocks covering [first, last] exactly ("a.b.c.d" for a /32). */
export function rangeToCidrs(first: number, last: number): string[] {
  const out: string[] = [];
  let a = first;
  while (a <= last) {
    // largest block aligned at a that does not pass last
    let len = 32;
    while (len > 0) {
      const size = 2 ** (33 - len);
      if (a % size !== 0 || a + size - 1 > last) break;
      len--;
    }
    out.push(len === 32 ? formatIpv4(a) : `${formatIpv4(a)}/${len}`);
    a += 2 ** (32 - len);
  }
  return out;
}

/** The ipsets a model needs: the pool (nfqueue mode only) and every group. */
export function renderIpsets(model: DataplaneModel): IpsetSpec[] {
  const sets: IpsetSpec[] = [];
  if (model.confirm === 'nfqueue') {
    // hash:net of CIDR blocks: a /14 pool is a handful of entries, not 262k (hash:ip's maxelem is 65536)
    const members = addressRanges(model.poolAddresses).flatMap(([a, b]) => rangeToCidrs(a, b));
    sets.push({ name: poolIpsetName(model), type: 'hash:net', members });
  }
  const byName = new Map<string, string>();
  for (const group of [...model.groups.keys()].sort()) {
    const name = groupIpsetName(model, group);
    const other = byName.get(name);
    if (other !== undefined) throw new Error(`groups '${other}' and '${group}' both map to ipset '${name}'; rename one`);
    byName.set(name, group);
    const members = addressRanges(model.groups.get(group)!).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => formatIpv4(a + i)));
    sets.push({ name, type: 'hash:ip', members });
  }
  return sets;
}

/**
 * `ipset restore` input that creates each set if missing and replaces its members. Not atomic per set (a
 * flush, then adds, microseconds apart); an existing set of another type is an error here, which the caller
 * handles by removing it first.
 */
export function renderIpsetRestore(sets: readonly IpsetSpec[]): string {
  const lines: string[] = [];
  for (const s of sets) {
    lines.push(`create ${s.name} ${s.type} -exist`, `flush ${s.name}`);
    for (const m of s.members) lines.push(`add ${s.name} ${m}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/* ---------- effects ---------- */

/** Name -> type of every ipset in the namespace; undefined when the ipset tool is not installed. */
export async function listIpsets(runner: Runner): Promise<Map<string, string> | undefined> {
  const r = await runner.run('ipset', ['list', '-t']);
  if (r.code === 127) return undefined;
  if (r.code !== 0) throw new Error(`ipset list -t: ${r.stderr.trim()}`);
  const sets = new Map<string, string>();
  let name: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const m = /^(Name|Type): (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'Name') name = m[2].trim();
    else if (name !== undefined) sets.set(name, m[2].trim());
  }
  return sets;
}

/** Creates or refills the sets (one `ipset restore`). */
export async function applyIpsets(runner: Runner, sets: readonly IpsetSpec[]): Promise<void> {
  const input = renderIpsetRestore(sets);
  if (!input) return;
  await runChecked(runner, 'ipset', ['restore'], { input });
}

/** Destroys the named sets one by one (so each failure is reported); returns those destroyed. */
export async function destroyIpsets(runner: Runner, names: readonly string[]): Promise<{ destroyed: string[]; errors: string[] }> {
  const destroyed: string[] = [];
  const errors: string[] = [];
  for (const name of names) {
    const r = await runner.run('ipset', ['destroy', name]);
    if (r.code === 0) destroyed.push(name);
    else errors.push(`ipset destroy ${name}: ${r.stderr.trim()}`);
  }
  return { destroyed, errors };
}
