/**
 * What a reload may do, decided without touching anything (pure): given the running gateway's compilation and
 * the new one, either the parts to apply or one refusal per setting that only a restart can change.
 *
 * Applied live: zones, policies (service names, hosts, firewall rules, proxy_required names), static forwards,
 * pool.nameZone, dataplane.unmatched and the interfaces (rules only), shutdown. Everything else is bound to
 * something built once at start (a socket, the pool's ring, the nfqueue binding, the PBRA gate's state, the
 * workers' registry, the loggers): changing it is refused, naming the key, and nothing changes.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Problem } from '../errors.js';
import { compiledDifferences, type CompiledGateway, type CompiledKernel, type CompiledPart } from '../compile/compiled-gateway.js';
import { renderFirewall } from '../dataplane/firewall.js';
import { renderRuleset } from '../dataplane/ruleset.js';
import { HANDSHAKE_OK_MARK_OFFSET } from '../dataplane/model.js';

/** Config keys a reload applies (a key path starting with one of these). */
const LIVE_KEYS: readonly (readonly string[])[] = [
  ['zones'],
  ['policies'],
  ['zonesDir'],
  ['policiesDir'],
  ['forwards'],
  ['pool', 'nameZone'],
  ['dataplane', 'unmatched'],
  ['dataplane', 'wan', 'interface'],
  // not lan.network: the LAN DNS listeners' client filter defaults to it, and they are built once
  ['dataplane', 'lan', 'interface'],
  ['shutdown'],
];
/** Derived from another key (refused there) or not a setting. */
const IGNORED_KEYS = new Set(['file', 'poolAddresses']);

export type ReloadPlan =
  | { kind: 'unchanged' }
  | { kind: 'refused'; problems: Problem[] }
  | { kind: 'apply'; changed: CompiledPart[]; next: CompiledGateway };

export function planReload(running: CompiledGateway, next: CompiledGateway): ReloadPlan {
  const changed = compiledDifferences(running, next);
  if (changed.length === 0) return { kind: 'unchanged' };
  const file = next.config.file;
  const refusal = (path: (string | number)[], what = 'cannot change in a reload'): Problem => ({ file, path, reason: `${what}; restart realmgw to apply it` });
  const problems: Problem[] = [];
  for (const path of differingPaths(running.config, next.config, [])) {
    if (IGNORED_KEYS.has(String(path[0]))) continue;
    if (LIVE_KEYS.some((k) => k.every((key, i) => path[i] === key))) continue;
    problems.push(refusal(path));
  }
  // parts that differ while their config keys do not: derived from files or zones
  if (changed.includes('workers') && isDeepStrictEqual(running.config.workers, next.config.workers)) problems.push(refusal(['workers', 'zone'], "the workers' zone moved with the zones"));
  if (changed.includes('pbra') && isDeepStrictEqual(running.config.pbra, next.config.pbra)) {
    const secret = !isDeepStrictEqual(running.pbra?.cookieSecret, next.pbra?.cookieSecret);
    problems.push(secret ? refusal(['pbra', 'cookies', 'secretFile'], "the cookie secret file's content changed") : refusal(['pbra', 'cname', 'zone'], 'the one-time aliases\' zone moved with the zones'));
  }
  if (problems.length) return { kind: 'refused', problems };
  const kernel = next.kernel && running.kernel ? keepMarks(running.kernel, next.kernel) : next.kernel;
  return { kind: 'apply', changed, next: { ...next, ...(kernel ? { kernel } : {}) } };
}

/** Key paths (leaves, or the deepest path where shapes differ) at which `a` and `b` differ. */
export function differingPaths(a: unknown, b: unknown, path: (string | number)[]): (string | number)[][] {
  if (isDeepStrictEqual(a, b)) return [];
  const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
  if (plain(a) && plain(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => differingPaths(a[k], b[k], [...path, k]));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.flatMap((x, i) => differingPaths(x, b[i], [...path, i]));
  return [path];
}

/**
 * nfqueue mode selects a host by packet mark (markBase + markIndex) in userspace and in the kernel's
 * mark_dnat map; the two switch at slightly different instants. Marks are given by sorted host id, so a new
 * host would shift the others' marks and a packet judged between the two switches would be sent to the wrong
 * host. Hosts that stay keep their mark; new hosts take the lowest free ones; the ruleset is rendered again.
 */
export function keepMarks(running: CompiledKernel, next: CompiledKernel): CompiledKernel {
  const old = new Map(running.model.hosts.map((h) => [h.id, h.markIndex]));
  if (next.model.hosts.every((h) => old.get(h.id) === h.markIndex)) return next;
  const taken = new Set(next.model.hosts.flatMap((h) => (old.has(h.id) ? [old.get(h.id)!] : [])));
  let free = 1;
  const hosts = next.model.hosts.map((h) => {
    const kept = old.get(h.id);
    if (kept !== undefined) return { ...h, markIndex: kept };
    while (taken.has(free)) free++;
    if (free >= HANDSHAKE_OK_MARK_OFFSET) throw new Error('no free packet mark for a new host');
    taken.add(free);
    return { ...h, markIndex: free };
  });
  const model = { ...next.model, hosts };
  return { model, ruleset: renderRuleset(model, { firewall: renderFirewall(model) }) };
}
