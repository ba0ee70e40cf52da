/**
 * Realm Gateway's gateway policy file `circularpool.policy.yaml`, read as Realm Gateway writes it (flow
 * mappings with single-quoted keys, `true`/`false`, numbers such as `1.00`) and mapped onto realmgw's PBRA
 * model. Realm Gateway itself copies CONTROL_VARIABLES onto its objects with setattr, so a misspelt flag is
 * silently a new attribute and the default stays in force; here every unknown key, wrong type and incoherent
 * row is a problem with file, line, key path and reason, all reported at once.
 *
 * What the flags become (Realm Gateway's pbra.py applies them in this order):
 *   PBRA_DNS_POLICY_TCPCNAME  every UDP query, alias follow-ups included, gets TC=1: udp ['tcp'], followUpOverUdp false
 *   PBRA_DNS_POLICY_TCP       a UDP query for a name that is not an alias gets TC=1: udp ['tcp']
 *   PBRA_DNS_POLICY_CNAME     a query that is not an alias follow-up gets a one-time alias: with TCP or TCPCNAME
 *                             tcp ['cname'] (the TCP retry is challenged); alone udp ['cname'] and tcp ['cname']
 *   PBRA_DNS_LOG_UNTRUSTED    logUntrusted
 * Absent parts take Realm Gateway's defaults: flags false, no groups, and one row 0..100 that admits everything.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import type { Problem } from '../errors.js';
import { aliasBomb, describe, FileCtx, readBool, readList, readMap, requireField, type Fields, type Path } from '../policy/yaml-walk.js';
import { parseCidr } from '../util/cidr.js';
import { groupProblems, tierProblems } from './checks.js';
import { MIDDLE, RGW_DEFAULT_TIERS, type GroupSpec, type PbraSettings, type Tier, type TierMath } from './model.js';

/** The part of the settings a Realm Gateway policy file decides. */
export type RgwPolicy = Pick<PbraSettings, 'groups' | 'tiers' | 'proofs' | 'logUntrusted' | 'circularPoolMax'>;

const TOP_KEYS = ['CIRCULARPOOL'];
const POOL_KEYS = ['max', 'DNS_GROUP_POLICY', 'CONTROL_VARIABLES'];
const GROUP_KEYS = ['initial_reputation', 'sla', 'nodes'];
const FLAGS = ['PBRA_DNS_POLICY_TCPCNAME', 'PBRA_DNS_POLICY_TCP', 'PBRA_DNS_POLICY_CNAME', 'PBRA_DNS_LOG_UNTRUSTED'] as const;
const CONTROL_KEYS = ['SYSTEM_LOAD', ...FLAGS];
const ROW_KEYS = ['threshold_min', 'threshold_max', 'fqdn_new', 'sfqdn_new', 'sfqdn_reuse', 'math'] as const;
const MATHS: readonly TierMath[] = ['min', 'max', 'avg'];

function readNumber(ctx: FileCtx, node: Node | null, path: Path, min: number, max: number): number | undefined {
  if (isScalar(node) && typeof node.value === 'number' && Number.isFinite(node.value) && node.value >= min && node.value <= max) return node.value;
  const disabled = isScalar(node) && node.value === -1 ? " (Realm Gateway's -1 to disable a row is not accepted: remove the row)" : '';
  ctx.fail(path, node, `must be a number ${min}..${max}, not ${describe(node)}${disabled}`);
  return undefined;
}

function readGroup(ctx: FileCtx, node: Node | null, path: Path, index: number): GroupSpec | undefined {
  const fields = readMap(ctx, node, path, GROUP_KEYS);
  if (!fields) return undefined;
  const before = ctx.problems.length;
  const initial = fields.get('initial_reputation');
  const initialReputation = initial ? readNumber(ctx, initial.value, [...path, 'initial_reputation'], 0, 1) : MIDDLE;
  const slaField = fields.get('sla');
  const sla = slaField ? readBool(ctx, slaField.value, [...path, 'sla']) : false;
  const nodesField = requireField(ctx, fields, 'nodes', node, path);
  const nodes = nodesField ? (readList(ctx, nodesField.value, [...path, 'nodes'], "['192.0.2.53']") ?? []) : [];
  if (nodesField && nodes.length === 0 && ctx.problems.length === before) ctx.fail([...path, 'nodes'], nodesField.value, 'needs at least one resolver address');
  const cidrs = nodes.map((n, i) => {
    const at = [...path, 'nodes', i];
    if (!isScalar(n) || typeof n.value !== 'string') return void ctx.fail(at, n, `must be an IPv4 address string, not ${describe(n)}`);
    const c = parseCidr(n.value);
    if ('error' in c) return void ctx.fail(at, n, c.error);
    // Realm Gateway looks resolvers up by the literal address string: a block would never match there.
    if (c.prefixLength !== 32) return void ctx.fail(at, n, `Realm Gateway matches node addresses literally; put CIDR blocks in realmgw's own pbra.groups`);
    return c;
  });
  if (ctx.problems.length > before || initialReputation === undefined || sla === undefined) return undefined;
  return { name: `DNS_GROUP_POLICY[${index}]`, nodes: cidrs as GroupSpec['nodes'], sla, initialReputation };
}

function readRow(ctx: FileCtx, node: Node | null, path: Path): { tier?: Tier; fields?: Fields } {
  const fields = readMap(ctx, node, path, ROW_KEYS);
  if (!fields) return {};
  const before = ctx.problems.length;
  const num = (key: (typeof ROW_KEYS)[number], max: number) => {
    const f = requireField(ctx, fields, key, node, path);
    return f && readNumber(ctx, f.value, [...path, key], 0, max);
  };
  const loadMin = num('threshold_min', 100);
  const loadMax = num('threshold_max', 100);
  const fqdnNew = num('fqdn_new', 1);
  const sfqdnNew = num('sfqdn_new', 1);
  const sfqdnReuse = num('sfqdn_reuse', 1);
  const mathField = requireField(ctx, fields, 'math', node, path);
  let math: TierMath | undefined;
  if (mathField) {
    const v = mathField.value;
    if (isScalar(v) && MATHS.includes(v.value as TierMath)) math = v.value as TierMath;
    else ctx.fail([...path, 'math'], v, `must be 'min', 'max' or 'avg', not ${describe(v)}`);
  }
  if (ctx.problems.length > before) return { fields };
  return { tier: { loadMin: loadMin!, loadMax: loadMax!, fqdnNew: fqdnNew!, sfqdnNew: sfqdnNew!, sfqdnReuse: sfqdnReuse!, math: math! }, fields };
}

function readTiers(ctx: FileCtx, node: Node | null, path: Path): Tier[] | undefined {
  const items = readList(ctx, node, path, "[{'threshold_min': 0, 'threshold_max': 100, 'fqdn_new': 0.0, 'sfqdn_new': 0.0, 'sfqdn_reuse': 0.0, 'math': 'max'}]");
  if (!items) return undefined;
  const rows = items.map((n, i) => ({ node: n, ...readRow(ctx, n, [...path, i]) }));
  if (rows.some((r) => !r.tier)) return undefined;
  const tiers = rows.map((r) => r.tier!);
  for (const p of tierProblems(tiers, { loadMin: 'threshold_min', loadMax: 'threshold_max', fqdnNew: 'fqdn_new' })) {
    const [i, key] = p.path as [number | undefined, string | undefined];
    const row = i === undefined ? undefined : rows[i];
    const at = row && key ? (row.fields?.get(key)?.keyNode ?? row.node) : (row?.node ?? node);
    ctx.fail([...path, ...p.path], at, p.reason);
  }
  return tiers;
}

function readControl(ctx: FileCtx, node: Node | null, path: Path) {
  const fields = readMap(ctx, node, path, CONTROL_KEYS);
  if (!fields) return undefined;
  const flags: Record<string, boolean> = {};
  for (const key of FLAGS) {
    const f = fields.get(key);
    flags[key] = (f && readBool(ctx, f.value, [...path, key])) ?? false;
  }
  const load = fields.get('SYSTEM_LOAD');
  const tiers = load ? readTiers(ctx, load.value, [...path, 'SYSTEM_LOAD']) : [...RGW_DEFAULT_TIERS];
  return { flags, tiers };
}

/** The flags as realmgw's proofs (see the header). */
export function proofsOfFlags(tcpCname: boolean, tcp: boolean, cname: boolean): PbraSettings['proofs'] {
  const truncate = tcpCname || tcp;
  return {
    udp: truncate ? ['tcp'] : cname ? ['cname'] : [],
    tcp: cname ? ['cname'] : [],
    followUpOverUdp: !tcpCname,
  };
}

/** Parses one circularpool.policy.yaml text (pure); `policy` only when there is no problem. */
export function parseRgwPolicy(text: string, file: string): { policy?: RgwPolicy; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((e) => ({ file, path: [], line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line, reason: `YAML syntax: ${e.message.split('\n')[0]}` })) };
  }
  const bomb = aliasBomb(doc, file);
  if (bomb) return { problems: [bomb] };
  const ctx = new FileCtx(file, lines, doc);
  const root = ctx.resolve(doc.contents);
  if (!isMap(root)) {
    ctx.fail([], root, `a circularpool policy file must be a mapping with the key 'CIRCULARPOOL', not ${describe(root)}`);
    return { problems: ctx.problems };
  }
  const top = readMap(ctx, root, [], TOP_KEYS);
  const poolField = top && requireField(ctx, top, 'CIRCULARPOOL', root, []);
  if (!poolField) return { problems: ctx.problems };
  const at = (...p: Path): Path => ['CIRCULARPOOL', ...p];
  const pool = readMap(ctx, poolField.value, at(), POOL_KEYS);
  if (!pool) return { problems: ctx.problems };

  let circularPoolMax: number | undefined;
  const maxField = pool.get('max');
  if (maxField) {
    const v = maxField.value;
    if (isScalar(v) && typeof v.value === 'number' && Number.isInteger(v.value) && v.value >= 0) circularPoolMax = v.value;
    else ctx.fail(at('max'), v, `must be a whole number >= 0, not ${describe(v)}`);
  }

  const groups: GroupSpec[] = [];
  const groupsField = pool.get('DNS_GROUP_POLICY');
  const groupItems = groupsField ? readList(ctx, groupsField.value, at('DNS_GROUP_POLICY'), "[{'initial_reputation': 1.0, 'sla': true, 'nodes': ['192.0.2.53']}]") : [];
  const groupNodes = groupItems ?? [];
  groupNodes.forEach((n, i) => {
    const g = readGroup(ctx, n, at('DNS_GROUP_POLICY', i), i);
    if (g) groups.push(g);
  });
  if (groups.length === groupNodes.length) {
    for (const p of groupProblems(groups, 'nodes')) {
      const [g, , n] = p.path as [number, string, number];
      const list = ctx.resolve(groupNodes[g]);
      const nodes = isMap(list) ? ctx.resolve(list.get('nodes', true)) : null;
      const item = nodes && 'items' in nodes ? (nodes.items as unknown[])[n] : list;
      ctx.fail(at('DNS_GROUP_POLICY', ...p.path), item, p.reason);
    }
  }

  const controlField = pool.get('CONTROL_VARIABLES');
  const control = controlField ? readControl(ctx, controlField.value, at('CONTROL_VARIABLES')) : { flags: {} as Record<string, boolean>, tiers: [...RGW_DEFAULT_TIERS] };
  // In file order, as an operator reads them (each part above reports in its own order).
  const byLine = [...ctx.problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (byLine.length > 0 || !control || !control.tiers) return { problems: byLine };
  const f = control.flags;
  const policy: RgwPolicy = {
    groups,
    tiers: control.tiers,
    proofs: proofsOfFlags(f.PBRA_DNS_POLICY_TCPCNAME ?? false, f.PBRA_DNS_POLICY_TCP ?? false, f.PBRA_DNS_POLICY_CNAME ?? false),
    logUntrusted: f.PBRA_DNS_LOG_UNTRUSTED ?? false,
  };
  if (circularPoolMax !== undefined) policy.circularPoolMax = circularPoolMax;
  return { policy, problems: [] };
}
