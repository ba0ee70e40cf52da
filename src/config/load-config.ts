import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { Problem } from '../errors.js';
import { InputError } from '../errors.js';
import { expandIpv4Range, parseIpv4 } from '../util/ipv4.js';
import { configSchema, type GatewayConfigData } from './schema.js';

export interface GatewayConfig extends GatewayConfigData {
  /** Absolute path of the file the config came from. */
  file: string;
  zonesDir: string;
  policiesDir: string;
  /** Pool addresses expanded and de-duplicated, as u32. */
  poolAddresses: number[];
}

/** Line of the YAML node at `keyPath`, walking up to the nearest existing parent when the key is missing. */
export function lineOf(doc: Document, lines: LineCounter, keyPath: (string | number)[]): number | undefined {
  for (let n = keyPath.length; n >= 0; n--) {
    const node = doc.getIn(keyPath.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Parses a YAML text; syntax errors come back as problems with their line. */
export function parseYaml(text: string, file: string): { doc: Document; lines: LineCounter; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: Problem[] = doc.errors.map((e) => ({
    file,
    path: [],
    line: e.linePos?.[0]?.line,
    reason: `YAML syntax: ${e.message.split('\n')[0]}`,
  }));
  return { doc, lines, problems };
}

export function loadConfig(file: string): GatewayConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new InputError([{ file: abs, path: [], reason: `cannot read: ${(err as Error).message}` }]);
  }
  return parseConfigText(text, abs);
}

export function parseConfigText(text: string, abs: string): GatewayConfig {
  const { doc, lines, problems } = parseYaml(text, abs);
  if (problems.length) throw new InputError(problems);
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new InputError(
      parsed.error.issues.map((issue) => {
        const keyPath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
        // zod reports unknown keys on the parent; point at the key itself so the line is the offending one.
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
        const at = keys.length === 1 ? [...keyPath, keys[0]] : keyPath;
        const reason = /received undefined$/.test(issue.message) ? `required key is missing (${issue.message.replace(/^Invalid input: /, '')})` : issue.message;
        return { file: abs, path: at, line: lineOf(doc, lines, at), reason };
      }),
    );
  }
  const data = parsed.data;
  const base = path.dirname(abs);
  const extra: Problem[] = [];
  const seen = new Set<number>();
  const poolAddresses: number[] = [];
  data.pool.addresses.forEach((spec, i) => {
    try {
      for (const a of expandIpv4Range(spec)) {
        if (seen.has(a)) continue;
        seen.add(a);
        poolAddresses.push(a);
      }
    } catch (err) {
      const at = ['pool', 'addresses', i];
      extra.push({ file: abs, path: at, line: lineOf(doc, lines, at), reason: (err as Error).message });
    }
  });
  if (seen.has(parseIpv4(data.pool.serviceAddress))) {
    const at = ['pool', 'serviceAddress'];
    extra.push({ file: abs, path: at, line: lineOf(doc, lines, at), reason: 'the service address must not also be a pool address' });
  }
  if (extra.length) throw new InputError(extra);
  return {
    ...data,
    file: abs,
    zonesDir: path.resolve(base, data.zones),
    policiesDir: path.resolve(base, data.policies),
    poolAddresses,
  };
}
