import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CATALOGUE } from '../../src/errors/catalogue.js';
import { exitStatusOf } from '../../src/errors/realmgw-error.js';
import { REPO_ROOT } from '../support/repo.js';
import { catalogueProblems, type CatalogueView } from '../support/catalogue-check.js';

/** Quoted RGW_ names in src that are not error codes, with what they are. */
const NOT_CODES = new Map([['RGW_IPVS_SNAT', 'the IPVS backend iptables chain']]);

const CATALOGUE_FILE = path.join('src', 'errors', 'catalogue.ts');

function sourceFiles(dir: string): { file: string; text: string }[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith('.ts') && rel !== CATALOGUE_FILE ? [{ file: rel, text: readFileSync(path.join(REPO_ROOT, rel), 'utf8') }] : [];
  });
}

const view: CatalogueView = Object.fromEntries(Object.keys(CATALOGUE).map((code) => [code, exitStatusOf(code as keyof typeof CATALOGUE)]));

test('every catalogued code is in the README with its exit status and used in src; src uses no other code', () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  assert.deepEqual(catalogueProblems(view, readme, sourceFiles('src'), new Set(NOT_CODES.keys())), []);
});

test('the check catches an undocumented, a misdocumented, an unused and an uncatalogued code', () => {
  const readme = ['# x', '', '## Errors', '', '| Code | Meaning | Exit |', '|---|---|---|', '| `RGW_A` | a | 1 |', '| `RGW_B` | b | 2 |', '| `RGW_GONE` | g | 1 |', '', '## Next', '| `RGW_C` | c | 1 |'].join('\n');
  const src = [{ file: 'src/x.ts', text: "throw new RealmgwError('RGW_A', {}); const n = 'RGW_NEW'; const chain = 'RGW_CHAIN'; const RGW_KEYS = 1;" }];
  assert.deepEqual(catalogueProblems({ RGW_A: 1, RGW_B: undefined, RGW_C: 1 }, readme, src, new Set(['RGW_CHAIN'])).sort(), [
    "RGW_B: README says exit '2', the catalogue —",
    'RGW_B: in the catalogue but nothing in src uses it',
    "RGW_C: in the catalogue but nothing in src uses it",
    "RGW_C: not in the README's error table",
    'RGW_GONE: in the README but not in the catalogue',
    'RGW_NEW: used in src/x.ts but not in the catalogue',
  ]);
});

test('every message template fills from named slots only, and exit statuses are the CLI\'s three', () => {
  for (const [code, entry] of Object.entries(CATALOGUE)) {
    assert.match(entry.message, /^([^{}]|\{\w+\})+$/, `${code}: stray brace in ${entry.message}`);
    const exit = (entry as { exit?: number }).exit;
    assert.ok(exit === undefined || [1, 2].includes(exit), `${code}: exit ${exit}`);
  }
});
