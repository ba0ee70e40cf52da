/**
 * Loads a folder of Realm Gateway subscriber files. As in RealmGateway's DataRepository, every file is a
 * mapping of host FQDN to host entry and the files merge like `{**earlier, **later}`: a later file's entry
 * for a host replaces the earlier entry whole (host granularity, no deep merge). realmgw reads the files in
 * name order (RealmGateway used os.listdir order, which is arbitrary) and records each replacement.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { InputError, type Problem } from '../errors.js';
import { readHost } from './host.js';
import type { MergeEvent, PolicySet, ServiceName, SubscriberHost } from './types.js';
import { aliasBomb, describe, FileCtx } from './yaml-walk.js';
import { parseFqdn } from '../zones/names.js';

/** Parses one subscriber file's text; returns its valid hosts in file order, every problem and every warning. */
export function parsePolicyText(text: string, file: string): { hosts: SubscriberHost[]; keys: string[]; problems: Problem[]; warnings: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e): Problem => {
      const line = e.linePos?.[0]?.line;
      const reason = `YAML: ${e.message.split('\n')[0]}`;
      return line === undefined ? { file, path: [], reason } : { file, path: [], line, reason };
    });
    return { hosts: [], keys: [], problems, warnings: [] };
  }
  const bomb = aliasBomb(doc, file);
  if (bomb) return { hosts: [], keys: [], problems: [bomb], warnings: [] };
  const ctx = new FileCtx(file, lines, doc);
  const root = ctx.resolve(doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) return { hosts: [], keys: [], problems: [], warnings: [] };
  if (!isMap(root)) {
    ctx.fail([], root, `a subscriber file must be a mapping of host FQDN to host entry, not ${describe(root)}`);
    return { hosts: [], keys: [], problems: ctx.problems, warnings: ctx.warnings };
  }
  const hosts: SubscriberHost[] = [];
  const keys: string[] = [];
  const seen = new Map<string, number | undefined>();
  for (const pair of root.items) {
    const keyNode = ctx.resolve(pair.key);
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      ctx.fail([], keyNode, `host keys must be FQDN strings, not ${describe(keyNode)}`);
      continue;
    }
    const key = keyNode.value;
    const canonical = parseFqdn(key);
    if (!('error' in canonical)) {
      if (seen.has(canonical.name)) {
        const at = seen.get(canonical.name);
        ctx.fail([key], keyNode, `host ${canonical.name} is already defined in this file${at ? ` at line ${at}` : ''}`);
        continue;
      }
      seen.set(canonical.name, ctx.line(keyNode));
    }
    const host = readHost(ctx, key, keyNode, ctx.resolve(pair.value));
    if (host) {
      hosts.push(host);
      keys.push(key);
    }
  }
  return { hosts, keys, problems: ctx.problems, warnings: ctx.warnings };
}

/**
 * Parses and merges subscriber files given in load order (pure: no file access). `policy` is returned only when
 * no file has any problem; the warnings of every file are returned either way (and are also the policy's).
 */
export function parsePolicyFiles(files: { file: string; text: string }[]): { policy?: PolicySet; problems: Problem[]; warnings: Problem[] } {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const hosts = new Map<string, SubscriberHost>();
  const merges: MergeEvent[] = [];
  for (const { file, text } of files) {
    const parsed = parsePolicyText(text, file);
    problems.push(...parsed.problems);
    warnings.push(...parsed.warnings);
    parsed.hosts.forEach((host, i) => {
      const earlier = hosts.get(host.id);
      if (earlier) merges.push({ host: host.id, key: parsed.keys[i], file, overrides: earlier.file });
      // Like a Python dict update, a replaced host keeps its original position.
      hosts.set(host.id, host);
    });
  }
  if (problems.length > 0) return { problems, warnings };
  const services = new Map<string, ServiceName>();
  for (const host of hosts.values()) {
    for (const s of host.services) if (!services.has(s.fqdn)) services.set(s.fqdn, s);
  }
  return { policy: { hosts, services, merges, warnings }, problems, warnings };
}

/**
 * Reads every `*.yaml` / `*.yml` file of `dir` (not recursive, dot files skipped) in name order and merges
 * them. Throws InputError listing every problem of every file.
 */
export function loadPolicyFolder(dir: string): PolicySet {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('.'))
      .sort();
  } catch (e) {
    throw new InputError([{ file: dir, path: [], reason: `cannot read the policy folder: ${(e as Error).message}` }]);
  }
  const problems: Problem[] = [];
  const files: { file: string; text: string }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      if (statSync(file).isFile()) files.push({ file, text: readFileSync(file, 'utf8') });
    } catch (e) {
      problems.push({ file, path: [], reason: `cannot read: ${(e as Error).message}` });
    }
  }
  const result = parsePolicyFiles(files);
  problems.push(...result.problems);
  if (problems.length > 0 || !result.policy) throw new InputError(problems);
  return result.policy;
}
