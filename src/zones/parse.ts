/** Turns one master file into a Zone, collecting every problem with its line. */

import type { Problem } from '../errors.js';
import { isInZone, parseZoneName } from './names.js';
import { MAX_TTL, parseRdata, parseTtl } from './rdata.js';
import { tokenize, type Entry, type Token } from './tokenizer.js';
import { SUPPORTED_TYPES, type Zone, type ZoneRecord } from './types.js';
import { checkZone } from './checks.js';

const SUPPORTED = new Set<string>(SUPPORTED_TYPES);
const CLASSES = new Set(['IN', 'CH', 'CS', 'HS', 'ANY', 'NONE']);
/** Types a master file may well contain that realmgw does not serve; named so the message says "not supported". */
const KNOWN_UNSUPPORTED = new Set([
  'A6', 'AFSDB', 'APL', 'CDNSKEY', 'CDS', 'CERT', 'DHCID', 'DLV', 'DNAME', 'DNSKEY', 'DS', 'HINFO', 'HIP', 'HTTPS',
  'IPSECKEY', 'KEY', 'KX', 'LOC', 'MB', 'MD', 'MF', 'MG', 'MINFO', 'MR', 'NAPTR', 'NSEC', 'NSEC3', 'NSEC3PARAM',
  'NULL', 'OPENPGPKEY', 'RP', 'RRSIG', 'SIG', 'SMIMEA', 'SPF', 'SSHFP', 'SVCB', 'TLSA', 'URI', 'WKS', 'ZONEMD',
]);

function isClassToken(t: Token): boolean {
  return !t.quoted && (CLASSES.has(t.text.toUpperCase()) || /^CLASS\d+$/i.test(t.text));
}

interface State {
  file: string;
  problems: Problem[];
  /** Origin for relative names; changes with each $ORIGIN. */
  origin: string | undefined;
  /** The zone apex: the first $ORIGIN before any record, else the default origin. */
  apex: string | undefined;
  defaultTtl: number | undefined;
  lastTtl: number | undefined;
  /** Owner of the previous record; null after an owner that could not be parsed. */
  prevOwner: string | null | undefined;
  records: ZoneRecord[];
  /** Types of records that were written but rejected: "no SOA" after a bad SOA line would only repeat it. */
  failedTypes: Set<string>;
  reportedNoOrigin: boolean;
}

function report(s: State, line: number | undefined, reason: string): void {
  s.problems.push(line === undefined ? { file: s.file, path: [], reason } : { file: s.file, path: [], line, reason });
}

function directive(s: State, e: Entry): void {
  const [head, ...args] = e.tokens;
  const name = head.text.toUpperCase();
  if (name === '$ORIGIN' || name === '$TTL') {
    if (args.length !== 1 || args[0].quoted) {
      report(s, e.line, `${name} takes exactly one argument`);
      return;
    }
    if (name === '$TTL') {
      const ttl = parseTtl(args[0].text);
      if (typeof ttl === 'number') s.defaultTtl = ttl;
      else report(s, e.line, ttl?.error ?? `$TTL ${JSON.stringify(args[0].text)} is not a TTL`);
      return;
    }
    const r = parseZoneName(args[0].text, s.origin);
    if ('error' in r) return report(s, e.line, `$ORIGIN: ${r.error}`);
    if (r.wildcard) return report(s, e.line, '$ORIGIN cannot be a wildcard name');
    if (s.records.length === 0 && s.prevOwner === undefined) s.apex = r.name;
    s.origin = r.name;
    return;
  }
  report(s, e.line, `directive ${head.text} is not supported (only $ORIGIN and $TTL)`);
}

function record(s: State, e: Entry): void {
  if (s.apex === undefined || s.origin === undefined) {
    if (!s.reportedNoOrigin) report(s, e.line, 'no origin: put $ORIGIN at the top or name the file <origin>.zone');
    s.reportedNoOrigin = true;
    return;
  }
  const tokens = e.tokens;
  let i = 0;
  let owner: string | null | undefined;
  if (e.ownerBlank) {
    owner = s.prevOwner;
    if (owner === undefined) return report(s, e.line, 'the first record has no owner name (the line starts with white space)');
    if (owner === null) return; // the previous owner was already reported
  } else {
    const t = tokens[i++];
    if (isClassToken(t) && t.text.toUpperCase() === 'IN') {
      s.prevOwner = null;
      return report(s, e.line, `owner name ${JSON.stringify(t.text)} looks like a class; indent the line to reuse the previous owner`);
    }
    const r = t.quoted ? { error: 'an owner name must not be quoted' } : parseZoneName(t.text, s.origin);
    if ('error' in r) {
      s.prevOwner = null;
      return report(s, e.line, r.error);
    }
    if (r.wildcard) {
      s.prevOwner = null;
      return report(s, e.line, `wildcard owner ${r.name} is not supported`);
    }
    owner = r.name;
    s.prevOwner = owner;
  }

  let ttl: number | undefined;
  let klass: string | undefined;
  for (let k = 0; k < 2 && i < tokens.length; k++) {
    const t = tokens[i];
    const asTtl = t.quoted ? undefined : parseTtl(t.text);
    if (ttl === undefined && asTtl !== undefined) {
      if (typeof asTtl !== 'number') return report(s, e.line, asTtl.error);
      ttl = asTtl;
      i++;
    } else if (klass === undefined && isClassToken(t)) {
      klass = t.text.toUpperCase();
      i++;
    } else {
      break;
    }
  }
  const typeToken = tokens[i++];
  if (!typeToken) return report(s, e.line, 'missing record type');
  if (klass !== undefined && klass !== 'IN') return report(s, e.line, `class ${klass} is not supported (only IN)`);
  const type = typeToken.text.toUpperCase();
  if (typeToken.quoted || !SUPPORTED.has(type)) {
    const list = SUPPORTED_TYPES.join(', ');
    if (KNOWN_UNSUPPORTED.has(type) || /^TYPE\d+$/.test(type)) {
      return report(s, e.line, `record type ${type} is not supported (supported: ${list})`);
    }
    return report(s, e.line, `unknown record type ${JSON.stringify(typeToken.text)} (supported: ${list})`);
  }

  if (ttl !== undefined) s.lastTtl = ttl;
  const before = s.problems.length;
  recordBody(s, e, { owner, type, ttl, rdata: tokens.slice(i), apex: s.apex, origin: s.origin });
  if (s.problems.length > before) s.failedTypes.add(type);
}

interface Parsed {
  owner: string;
  type: string;
  ttl: number | undefined;
  rdata: Token[];
  apex: string;
  origin: string;
}

function recordBody(s: State, e: Entry, { owner, type, ttl, rdata: rdataTokens, apex, origin }: Parsed): void {
  const effectiveTtl = ttl ?? s.defaultTtl ?? s.lastTtl;
  if (effectiveTtl === undefined || effectiveTtl > MAX_TTL) {
    return report(s, e.line, 'no TTL: give one on the record or put $TTL at the top');
  }
  if (!isInZone(owner, apex)) {
    return report(s, e.line, `${owner || '(root)'} is outside the zone ${apex || '(root)'}`);
  }
  const rdata = parseRdata(type, rdataTokens, origin);
  if ('error' in rdata) return report(s, e.line, `bad ${type} data: ${rdata.error}`);
  s.records.push({ name: owner, type, ttl: effectiveTtl, data: rdata.data, line: e.line });
}

/**
 * Parses one RFC 1035 master file. The zone apex is the first $ORIGIN given before any record, else
 * `defaultOrigin` (taken from the file name by the folder loader). `zone` is returned only when the file
 * has no problem at all.
 */
export function parseZoneText(text: string, file: string, defaultOrigin?: string): { zone?: Zone; problems: Problem[] } {
  const s: State = {
    file,
    problems: [],
    origin: undefined,
    apex: undefined,
    defaultTtl: undefined,
    lastTtl: undefined,
    prevOwner: undefined,
    records: [],
    failedTypes: new Set(),
    reportedNoOrigin: false,
  };
  if (defaultOrigin !== undefined) {
    const r = parseZoneName(defaultOrigin.endsWith('.') ? defaultOrigin : defaultOrigin + '.', '');
    if ('error' in r) report(s, undefined, `default origin ${JSON.stringify(defaultOrigin)}: ${r.error}`);
    else s.origin = s.apex = r.name;
  }
  const lex = tokenize(text.replace(/^\uFEFF/, ''));
  for (const p of lex.problems) report(s, p.line, p.reason);
  for (const e of lex.entries) {
    if (e.broken) continue;
    if (e.tokens[0].text.startsWith('$') && !e.tokens[0].quoted) directive(s, e);
    else record(s, e);
  }
  if (s.apex === undefined) {
    if (!s.reportedNoOrigin) report(s, undefined, 'no origin: put $ORIGIN at the top or name the file <origin>.zone');
    return { problems: sortProblems(s.problems) };
  }
  const soa = checkZone(s.apex, s.records, s.failedTypes, (line, reason) => report(s, line, reason));
  const problems = sortProblems(s.problems);
  if (problems.length > 0 || !soa) return { problems };
  return { zone: { origin: s.apex, file, soa, records: s.records }, problems };
}

function sortProblems(problems: Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}
