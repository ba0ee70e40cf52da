// The test tiers are chosen by file name (test/run.sh): test/e2e/** is e2e, *.kernel.test.ts is kernel, every
// other *.test.ts is unit and runs as an unprivileged user with no namespace and no kernel change. A unit
// test that reaches for the kernel's helpers is misfiled; this finds it before a non-root run does.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './support/repo.js';

/** Support modules that build namespaces, start a UML guest or run tools that need root. */
const KERNEL_HELPERS = ['netns', 'scratch-ns', 'uml', 'worker-net', 'unbound', 'gateway', 'dataplane-harness'];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.ts') ? [relative(REPO_ROOT, path)] : [];
  });
}

const tierOf = (file: string): string => (file.startsWith('test/e2e/') ? 'e2e' : file.endsWith('.kernel.test.ts') ? 'kernel' : 'unit');

test('unit tests import none of the kernel helpers (those tests are named *.kernel.test.ts or live in test/e2e/)', () => {
  const files = testFiles(join(REPO_ROOT, 'test'));
  assert.ok(files.length > 50, `found the test sources (${files.length})`);
  const helper = new RegExp(`from '[./]*(?:support/)+(?:${KERNEL_HELPERS.join('|')})\\.js'`);
  const misfiled = files.filter((f) => tierOf(f) === 'unit' && helper.test(readFileSync(join(REPO_ROOT, f), 'utf8')));
  assert.deepEqual(misfiled, []);
});
