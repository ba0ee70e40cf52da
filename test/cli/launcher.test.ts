// The `realmgw` launcher install-deps.sh puts on PATH (orchestration/install-launcher.sh), installed into a
// temp dir instead of /usr/local/bin: it runs this clone's CLI from any directory, is idempotent, replaces a
// launcher of another clone, and refuses a file that is not its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir, REPO_ROOT, writeTempFile } from '../support/repo.js';

const SCRIPT = path.join(REPO_ROOT, 'orchestration', 'install-launcher.sh');
const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
// the runtime these tests run on (22 or 24) is the one the launcher must pick
const env = { ...process.env, RGW_NODE_MAJOR: process.versions.node.split('.')[0] };

function install(target: string) {
  const r = spawnSync('bash', [SCRIPT, target], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the launcher runs this clone\'s realmgw from any directory, on the pinned runtime', async () => {
  const target = path.join(await makeTempDir('bin'), 'realmgw');
  const first = install(target);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /realmgw runs .*dist\/src\/cli\/main\.js on .*\.runtime\/node-v/);
  assert.equal(statSync(target).mode & 0o777, 0o755);
  const elsewhere = await makeTempDir('cwd');
  const r = spawnSync(target, ['--version'], { cwd: elsewhere, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `realmgw ${VERSION} (node ${process.version})\n`);
  const usage = spawnSync(target, ['frobnicate'], { cwd: elsewhere, encoding: 'utf8' });
  assert.equal(usage.status, 2, 'arguments and the exit status pass through');
  assert.match(usage.stderr, /^RGW_USAGE: unknown command 'frobnicate'/);
});

test('installing again changes nothing; a launcher of another clone is rewritten', async () => {
  const target = path.join(await makeTempDir('bin'), 'realmgw');
  assert.equal(install(target).status, 0);
  const before = statSync(target);
  const again = install(target);
  assert.deepEqual([again.status, again.stdout, again.stderr], [0, '', '']);
  assert.equal(statSync(target).ino, before.ino, 'not rewritten (a rewrite renames a new file over it)');
  const moved = readFileSync(target, 'utf8').replaceAll(REPO_ROOT, '/srv/old-clone');
  await writeTempFile(path.basename(target), moved, { dir: path.dirname(target) });
  const stale = spawnSync(target, ['--version'], { encoding: 'utf8' });
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /\/srv\/old-clone\/dist\/src\/cli\/main\.js .*missing: the clone moved or is not built/);
  assert.equal(install(target).status, 0);
  assert.ok(readFileSync(target, 'utf8').includes(`cli='${REPO_ROOT}/dist/src/cli/main.js'`), 'points at this clone again');
});

test('a file or a symlink that is not realmgw\'s launcher is refused and left untouched', async () => {
  const dir = await makeTempDir('bin');
  const own = await writeTempFile('realmgw', '#!/bin/sh\necho my own realmgw\n', { dir });
  const r = install(own);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /realmgw exists and is not realmgw's launcher .*left untouched/);
  assert.equal(readFileSync(own, 'utf8'), '#!/bin/sh\necho my own realmgw\n');
  const link = path.join(dir, 'linked');
  symlinkSync(own, link); // an `npm link` looks like this
  assert.equal(install(link).status, 1);
  assert.equal(readFileSync(own, 'utf8'), '#!/bin/sh\necho my own realmgw\n');
});
