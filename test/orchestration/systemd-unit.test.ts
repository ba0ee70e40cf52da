/**
 * The systemd unit and its example config. `systemd-analyze verify` parses the unit as systemd would: unknown
 * sections and keys, values it cannot parse, Exec commands that are not executable, missing units in its
 * dependencies. It prints those as warnings and still exits 0, so the test also requires silence. It does not
 * start anything: whether the capability set suffices is test/e2e/service-capabilities.test.ts's job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CLI_PATH, makeTempDir, POLICIES_DIR, REPO_ROOT, ZONES_DIR } from '../support/repo.js';

const UNIT = join(REPO_ROOT, 'orchestration', 'systemd', 'realmgw.service');
const EXAMPLE = join(REPO_ROOT, 'orchestration', 'systemd', 'realmgw.example.yaml');
const BINARY = '/usr/local/bin/realmgw';
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** The unit's `Key=value` lines (a key given twice keeps its last value, as systemd does for these keys). */
function unitKeys(text: string): Map<string, string> {
  return new Map(text.split('\n').flatMap((l) => (/^\w+=/.test(l) ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]] : [])));
}

test('systemd-analyze verify accepts the unit without a single warning', { skip: hasAnalyze ? false : 'systemd-analyze missing (Debian package systemd; orchestration/install-deps.sh installs it)' }, async () => {
  const dir = await makeTempDir('unit');
  // verify insists that ExecStart's binary exist; /usr/local/bin/realmgw exists only after the install, so a
  // stand-in executable takes its place in a copy, and nothing else of the unit changes.
  const standIn = join(dir, 'realmgw');
  writeFileSync(standIn, '#!/bin/sh\nexit 0\n');
  chmodSync(standIn, 0o755);
  const text = readFileSync(UNIT, 'utf8');
  assert.ok(text.includes(`ExecStart=${BINARY} run`), 'the unit runs the installed command');
  const copy = join(dir, 'realmgw.service');
  writeFileSync(copy, text.replaceAll(BINARY, standIn));
  const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr + r.stdout, '', 'verify warned');
});

test('the unit is Type=notify from the main process, with the runtime and state directories the example config uses', () => {
  const keys = unitKeys(readFileSync(UNIT, 'utf8'));
  assert.equal(keys.get('Type'), 'notify');
  assert.equal(keys.get('NotifyAccess'), 'main');
  assert.match(keys.get('WatchdogSec') ?? '', /^\d+s$/);
  assert.equal(keys.get('RuntimeDirectory'), 'realmgw');
  assert.equal(keys.get('StateDirectory'), 'realmgw');
  assert.match(keys.get('ExecReload') ?? '', new RegExp(`^${BINARY} reload --config /etc/realmgw/realmgw.yaml$`));
  assert.equal(keys.get('CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW');
  const config = parse(readFileSync(EXAMPLE, 'utf8'));
  assert.match(config.admin.socket, /^\/run\/realmgw\//, 'admin socket and lock in RuntimeDirectory');
  assert.match(config.workers.stateFile, /^\/var\/lib\/realmgw\//, "workers' state in StateDirectory: it survives a reboot");
});

test('the example config passes realmgw check (with the repository zones and policies in /etc/realmgw)', async () => {
  const dir = await makeTempDir('etc-realmgw');
  writeFileSync(join(dir, 'realmgw.yaml'), readFileSync(EXAMPLE));
  symlinkSync(ZONES_DIR, join(dir, 'zones'));
  symlinkSync(join(POLICIES_DIR, 'gwa.demo'), join(dir, 'policies'));
  const r = spawnSync(process.execPath, [CLI_PATH, 'check', '--config', join(dir, 'realmgw.yaml')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ok: /);
});
