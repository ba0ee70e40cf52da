/**
 * Subscriber firewall rules in RealmGateway's python-iptables dict form, e.g.
 * `{priority: 50, direction: INGRESS, protocol: '6', tcp: {dport: '22'}, target: DROP, comment: {comment: 'no ssh'}}`.
 * The key set is closed: a key realmgw does not know is an error, because ignoring it would widen the rule.
 */

import { isScalar, type Node } from 'yaml';
import { isIpv4, parseIpv4, formatIpv4 } from '../util/ipv4.js';
import { didYouMean } from './suggest.js';
import type { Direction, FirewallRule, HashLimit, Ipv4Prefix, PortRange, RuleTarget, StringMatch } from './types.js';
import { describe, readInt, readMap, readString, requireField, type FileCtx, type Path } from './yaml-walk.js';

export const RULE_KEYS = ['priority', 'direction', 'target', 'protocol', 'src', 'dst', 'tcp', 'udp', 'sctp', 'icmp', 'hashlimit', 'string', 'comment'] as const;
const DIRECTIONS: Direction[] = ['EGRESS', 'INGRESS', 'ANY'];
const TARGETS: RuleTarget[] = ['ACCEPT', 'DROP', 'REJECT'];
const PORT_MATCHES = { tcp: 6, udp: 17, sctp: 132 } as const;
const PROTOCOL_NAMES: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, sctp: 132 };
const HASHLIMIT_KEYS = ['hashlimit-above', 'hashlimit-upto', 'hashlimit-burst', 'hashlimit-name', 'hashlimit-mode', 'hashlimit-htable-expire'];
const HASHLIMIT_MODES = ['srcip', 'dstip', 'srcport', 'dstport'] as const;
const RATE_UNITS: Record<string, HashLimit['per']> = {
  s: 'second', sec: 'second', second: 'second',
  m: 'minute', min: 'minute', minute: 'minute',
  h: 'hour', hour: 'hour',
  d: 'day', day: 'day',
};
const ICMP_TYPES: Record<string, number> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
  'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
  'timestamp-request': 13, 'timestamp-reply': 14,
};
const MAX_COMMENT = 128;

function readEnum<T extends string>(ctx: FileCtx, node: Node | null, path: Path, allowed: readonly T[]): T | undefined {
  const s = readString(ctx, node, path);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  ctx.fail(path, node, `${JSON.stringify(s)} is not one of ${allowed.join(', ')}${didYouMean(s, allowed)}`);
  return undefined;
}

function readProtocol(ctx: FileCtx, node: Node | null, path: Path): number | undefined {
  if (isScalar(node) && typeof node.value === 'string' && node.value.toLowerCase() in PROTOCOL_NAMES) {
    return PROTOCOL_NAMES[node.value.toLowerCase()];
  }
  return readInt(ctx, node, path, 0, 255, true);
}

export function readPrefix(ctx: FileCtx, node: Node | null, path: Path): Ipv4Prefix | undefined {
  const s = readString(ctx, node, path);
  if (s === undefined) return undefined;
  const [addr, len, extra] = s.split('/');
  const prefixLength = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (extra !== undefined || !isIpv4(addr) || !(prefixLength >= 0 && prefixLength <= 32)) {
    ctx.fail(path, node, `${JSON.stringify(s)} is not an IPv4 address or address/prefix`);
    return undefined;
  }
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const network = formatIpv4((parseIpv4(addr) & mask) >>> 0);
  if (network !== addr) {
    ctx.fail(path, node, `${s} has host bits set; did you mean ${network}/${prefixLength}?`);
    return undefined;
  }
  return { address: network, prefixLength };
}

function readPortRange(ctx: FileCtx, node: Node | null, path: Path): PortRange | undefined {
  const text = isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'string') ? String(node.value) : undefined;
  const m = text === undefined ? null : /^(\d{1,5})(?::(\d{1,5}))?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!(first >= 0 && last <= 65535 && first <= last)) {
    ctx.fail(path, node, `must be a port 0..65535 or a range 'first:last', not ${describe(node)}`);
    return undefined;
  }
  return { first, last };
}

function readIcmpType(ctx: FileCtx, node: Node | null, path: Path): { type: number; code?: number } | undefined {
  const text = isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'string') ? String(node.value) : '';
  if (text in ICMP_TYPES) return { type: ICMP_TYPES[text] };
  const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(text);
  if (m && Number(m[1]) <= 255 && (m[2] === undefined || Number(m[2]) <= 255)) {
    return m[2] === undefined ? { type: Number(m[1]) } : { type: Number(m[1]), code: Number(m[2]) };
  }
  ctx.fail(path, node, `must be an ICMP type ('8', '8/0' or a name such as 'echo-request'), not ${describe(node)}${didYouMean(text, Object.keys(ICMP_TYPES))}`);
  return undefined;
}

function readHashLimit(ctx: FileCtx, node: Node | null, path: Path): HashLimit | undefined {
  const f = readMap(ctx, node, path, HASHLIMIT_KEYS);
  if (!f) return undefined;
  const above = f.get('hashlimit-above');
  const upto = f.get('hashlimit-upto');
  if (!above === !upto) {
    ctx.fail(path, node, "needs exactly one of 'hashlimit-above' and 'hashlimit-upto'");
    return undefined;
  }
  const rateField = (above ?? upto)!;
  const ratePath = [...path, rateField.key];
  const rateText = readString(ctx, rateField.value, ratePath);
  const m = rateText === undefined ? null : /^(\d+)\/([a-z]+)$/.exec(rateText);
  const per = m ? RATE_UNITS[m[2]] : undefined;
  if (rateText !== undefined && (!m || !per || Number(m[1]) === 0)) {
    ctx.fail(ratePath, rateField.value, `${JSON.stringify(rateText)} is not a packet rate such as '5/sec' (units sec, min, hour, day)`);
  }
  const nameField = requireField(ctx, f, 'hashlimit-name', node, path);
  const name = nameField && readString(ctx, nameField.value, [...path, 'hashlimit-name']);
  if (name !== undefined && !/^[A-Za-z0-9_-]{1,15}$/.test(name)) {
    ctx.fail([...path, 'hashlimit-name'], nameField!.value, `${JSON.stringify(name)} must be 1 to 15 letters, digits, '-' or '_'`);
  }
  const burstField = f.get('hashlimit-burst');
  const burst = burstField && readInt(ctx, burstField.value, [...path, 'hashlimit-burst'], 1, 1_000_000, true);
  const expireField = f.get('hashlimit-htable-expire');
  const expireMs = expireField && readInt(ctx, expireField.value, [...path, 'hashlimit-htable-expire'], 1, 86_400_000, true);
  const keys: HashLimit['keys'] = [];
  const modeField = f.get('hashlimit-mode');
  const modeText = modeField && readString(ctx, modeField.value, [...path, 'hashlimit-mode']);
  for (const k of modeText === undefined ? [] : modeText.split(',')) {
    if ((HASHLIMIT_MODES as readonly string[]).includes(k) && !keys.includes(k as HashLimit['keys'][number])) {
      keys.push(k as HashLimit['keys'][number]);
    } else {
      ctx.fail([...path, 'hashlimit-mode'], modeField!.value, `${JSON.stringify(k)} is not one of ${HASHLIMIT_MODES.join(', ')} (or is repeated)${didYouMean(k, HASHLIMIT_MODES)}`);
    }
  }
  if (!m || !per || name === undefined || (burstField && burst === undefined) || (expireField && expireMs === undefined)) return undefined;
  const out: HashLimit = { name, mode: above ? 'above' : 'upto', rate: Number(m[1]), per, keys };
  if (burst !== undefined) out.burst = burst;
  if (expireMs !== undefined) out.expireMs = expireMs;
  return out;
}

/** iptables hex-string syntax: text with |hex bytes| segments, e.g. '|04|nsfw'. */
function parseHexString(text: string): number[] | undefined {
  const parts = text.split('|');
  if (parts.length % 2 === 0) return undefined;
  const bytes: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (i % 2 === 0) {
      bytes.push(...Buffer.from(part, 'utf8'));
      continue;
    }
    const hex = part.replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return undefined;
    for (let j = 0; j < hex.length; j += 2) bytes.push(parseInt(hex.slice(j, j + 2), 16));
  }
  return bytes;
}

function readStringMatch(ctx: FileCtx, node: Node | null, path: Path): StringMatch | undefined {
  const f = readMap(ctx, node, path, ['algo', 'string', 'hex-string']);
  if (!f) return undefined;
  const algoField = requireField(ctx, f, 'algo', node, path);
  const algo = algoField && readEnum(ctx, algoField.value, [...path, 'algo'], ['bm', 'kmp'] as const);
  const plain = f.get('string');
  const hex = f.get('hex-string');
  if (!plain === !hex) {
    ctx.fail(path, node, "needs exactly one of 'string' and 'hex-string'");
    return undefined;
  }
  const field = (plain ?? hex)!;
  const text = readString(ctx, field.value, [...path, field.key]);
  if (text === undefined || algo === undefined) return undefined;
  const bytes = plain ? [...Buffer.from(text, 'utf8')] : parseHexString(text);
  if (!bytes || bytes.length === 0) {
    ctx.fail([...path, field.key], field.value, `${JSON.stringify(text)} is not a ${field.key} such as ${plain ? "'nsfw'" : "'|04|nsfw'"}`);
    return undefined;
  }
  return { algo, bytes };
}

function readComment(ctx: FileCtx, node: Node | null, path: Path): string | undefined {
  let text: string | undefined;
  if (isScalar(node) && typeof node.value === 'string') {
    text = node.value;
  } else {
    const f = readMap(ctx, node, path, ['comment']);
    const inner = f && requireField(ctx, f, 'comment', node, path);
    if (!inner) return undefined;
    text = readString(ctx, inner.value, [...path, 'comment']);
  }
  if (text !== undefined && Buffer.byteLength(text) > MAX_COMMENT) {
    ctx.fail(path, node, `a comment holds at most ${MAX_COMMENT} bytes`);
    return undefined;
  }
  return text;
}

/** Reads one rule; returns undefined when any part of it is invalid (every problem is reported). */
export function readRule(ctx: FileCtx, node: Node | null, path: Path): FirewallRule | undefined {
  const before = ctx.problems.length;
  const f = readMap(ctx, node, path, RULE_KEYS);
  if (!f) return undefined;
  const at = (key: string) => [...path, key];
  const req = (key: string) => requireField(ctx, f, key, node, path);
  const priorityField = req('priority');
  const directionField = req('direction');
  const targetField = req('target');
  const rule: Partial<FirewallRule> = {};
  if (priorityField) rule.priority = readInt(ctx, priorityField.value, at('priority'), 0, 65535, true);
  if (directionField) rule.direction = readEnum(ctx, directionField.value, at('direction'), DIRECTIONS);
  if (targetField) rule.target = readEnum(ctx, targetField.value, at('target'), TARGETS);
  const protocolField = f.get('protocol');
  let protocol = protocolField ? readProtocol(ctx, protocolField.value, at('protocol')) : undefined;
  const protocolBad = protocolField !== undefined && protocol === undefined;
  if (protocol === 0) protocol = undefined; // iptables -p 0: any protocol
  if (protocol !== undefined) rule.protocol = protocol;
  for (const key of ['src', 'dst'] as const) {
    const field = f.get(key);
    if (field) rule[key] = readPrefix(ctx, field.value, at(key));
  }

  const portKeys = (Object.keys(PORT_MATCHES) as (keyof typeof PORT_MATCHES)[]).filter((k) => f.has(k));
  if (portKeys.length > 1) ctx.fail(path, node, `only one of ${portKeys.map((k) => `'${k}'`).join(', ')} may be given`);
  for (const key of portKeys) {
    const field = f.get(key)!;
    if (protocolBad) {
      // the protocol itself is already reported
    } else if (protocolField && protocol !== PORT_MATCHES[key]) {
      ctx.fail(at(key), field.keyNode, `the '${key}' match needs protocol ${PORT_MATCHES[key]}`);
    } else if (!protocolField) {
      ctx.fail(at(key), field.keyNode, `the '${key}' match needs protocol ${PORT_MATCHES[key]}; add protocol: '${PORT_MATCHES[key]}'`);
    }
    const ports = readMap(ctx, field.value, at(key), ['dport', 'sport']);
    for (const p of ['dport', 'sport'] as const) {
      const pf = ports?.get(p);
      if (pf) rule[p] = readPortRange(ctx, pf.value, [...path, key, p]);
    }
  }
  const icmpField = f.get('icmp');
  if (icmpField) {
    if (protocol !== 1 && !protocolBad) ctx.fail(at('icmp'), icmpField.keyNode, "the 'icmp' match needs protocol 1");
    const icmp = readMap(ctx, icmpField.value, at('icmp'), ['icmp-type']);
    const typeField = icmp && requireField(ctx, icmp, 'icmp-type', icmpField.value, at('icmp'));
    if (typeField) rule.icmp = readIcmpType(ctx, typeField.value, [...path, 'icmp', 'icmp-type']);
  }
  const hashField = f.get('hashlimit');
  if (hashField) rule.hashlimit = readHashLimit(ctx, hashField.value, at('hashlimit'));
  const stringField = f.get('string');
  if (stringField) rule.stringMatch = readStringMatch(ctx, stringField.value, at('string'));
  const commentField = f.get('comment');
  if (commentField) rule.comment = readComment(ctx, commentField.value, at('comment'));

  if (ctx.problems.length > before) return undefined;
  return { ...rule, file: ctx.file, line: ctx.line(node) ?? 0 } as FirewallRule;
}
