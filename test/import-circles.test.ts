// No import circles in src/: none between files, and none between folders (a file at the top of src/ counts
// as a folder of its own). A folder that imports its sub-folder while the sub-folder imports it back is the
// kind of knot issue 9 untied; this keeps it untied.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './support/repo.js';

const SRC = path.join(REPO_ROOT, 'src');
const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

function graph(): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const file of sources(SRC)) {
    const deps = new Set<string>();
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts');
      if (existsSync(target)) deps.add(target);
    }
    g.set(file, deps);
  }
  return g;
}

/** Strongly connected components with more than one member (Tarjan). */
function circles(g: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(path.relative(REPO_ROOT, w));
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('no file imports itself back through other files', () => {
  assert.deepEqual(circles(graph()), []);
});

test('no folder of src/ imports itself back through other folders', () => {
  const folder = (file: string) => (path.dirname(file) === SRC ? file : path.dirname(file));
  const folders = new Map<string, Set<string>>();
  for (const [file, deps] of graph()) {
    for (const d of deps) {
      if (folder(d) === folder(file)) continue;
      if (!folders.has(folder(file))) folders.set(folder(file), new Set());
      folders.get(folder(file))!.add(folder(d));
    }
  }
  assert.deepEqual(circles(folders), []);
});

test('the check finds a circle when there is one', () => {
  const at = (name: string) => path.join(REPO_ROOT, name);
  const g = new Map([
    [at('a'), new Set([at('b')])],
    [at('b'), new Set([at('a')])],
    [at('c'), new Set([at('a')])],
  ]);
  assert.deepEqual(circles(g), [['a', 'b']]);
});
