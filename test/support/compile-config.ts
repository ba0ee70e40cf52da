/** The demo config, changed per test, for compile tests: a file of its own and the problems compile finds. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { compile } from '../../src/compile/compile.js';
import { InputError } from '../../src/errors.js';
import { REPO_ROOT, writeTempYaml } from './repo.js';

export const DEMO = path.join(REPO_ROOT, 'orchestration', 'netns', 'gwa.demo.yaml');

export type Json = { [k: string]: any };

/** The demo config with absolute folders, changed by `over`, in a file of its own (or in `file`, as a reload would re-read it). */
export async function demoWith(over: (c: Json) => void = () => {}, file?: string): Promise<string> {
  const c = parse(await readFile(DEMO, 'utf8')) as Json;
  c.zones = path.join(REPO_ROOT, 'zones');
  c.policies = path.join(REPO_ROOT, 'policies', 'gwa.demo');
  over(c);
  return writeTempYaml(stringify(c), file === undefined ? {} : { dir: path.dirname(file), name: path.basename(file) });
}

/** `key.path: reason` of every problem compile reports; fails the test when it accepts the config. */
export function problemsOf(file: string): string[] {
  try {
    compile(file);
  } catch (err) {
    if (err instanceof InputError) return err.problems.map((p) => `${p.path.join('.')}: ${p.reason}`);
    throw err;
  }
  assert.fail('compile accepted the config');
}
