/** Loads a folder of master files (`*.zone`), one zone per file. */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, type Problem } from '../errors.js';
import { parseZoneText } from './parse.js';
import type { Zone } from './types.js';

/**
 * Reads every `*.zone` file of `dir` (not recursive, dot files skipped) in name order. A file's origin is its
 * first $ORIGIN, else its name without `.zone`. Throws InputError listing every problem of every file,
 * including two files that define the same origin and a folder without zone files.
 */
export function loadZoneFolder(dir: string): Zone[] {
  const problems: Problem[] = [];
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.zone') && !n.startsWith('.'))
      .sort();
  } catch (e) {
    throw new InputError([{ file: dir, path: [], reason: `cannot read the zone folder: ${(e as Error).message}` }]);
  }
  const zones: Zone[] = [];
  const byOrigin = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    let text: string;
    try {
      if (!statSync(file).isFile()) continue;
      text = readFileSync(file, 'utf8');
    } catch (e) {
      problems.push({ file, path: [], reason: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const result = parseZoneText(text, file, name.slice(0, -'.zone'.length));
    problems.push(...result.problems);
    if (!result.zone) continue;
    const first = byOrigin.get(result.zone.origin);
    if (first !== undefined) {
      problems.push({
        file,
        path: [],
        line: result.zone.soa.line,
        reason: `zone ${result.zone.origin || '(root)'} is also defined by ${first}`,
      });
      continue;
    }
    byOrigin.set(result.zone.origin, file);
    zones.push(result.zone);
  }
  if (names.length === 0) problems.push({ file: dir, path: [], reason: 'no *.zone files in the zone folder' });
  if (problems.length > 0) throw new InputError(problems);
  return zones;
}
