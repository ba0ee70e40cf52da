// The built CLI as an operator runs it: --version, every command's own help, one-line usage errors, `secret`
// and `check --json`. Nothing here touches the kernel or a running gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { COMMANDS } from '../../src/cli/commands.js';
import { optionLabel } from '../../src/cli/command.js';
import { parseSecretHash, verifySecret } from '../../src/workers/secret.js';
import { CLI_PATH, REPO_ROOT } from '../support/repo.js';
import { DEMO, demoWith } from '../support/compile-config.js';


function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}


test('--version prints the package version and the Node.js version', async () => {
  const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = cli('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `realmgw ${version} (node ${process.version})\n`);
});

test('every command has its own --help (also as realmgw help COMMAND): usage, each option, an example', () => {
  for (const c of COMMANDS) {
    const r = cli(c.name, '--help');
    assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `realmgw ${c.name} - ${c.summary}`);
    assert.ok(lines.includes(`Usage: realmgw ${c.name}${c.options.map((o) => ` ${o.required ? optionLabel(o) : `[${optionLabel(o)}]`}`).join('')}`), r.stdout);
    for (const o of c.options) assert.ok(lines.some((l) => l.includes(optionLabel(o)) && l.includes(o.description)), `${c.name}: ${o.name}`);
    const example = lines.findIndex((l) => /^Examples?:$/.test(l));
    assert.ok(example > 0 && lines[example + 1].startsWith(`  `) && lines[example + 1].includes(`realmgw ${c.name}`), `${c.name}: an example`);
    assert.equal(cli('help', c.name).stdout, r.stdout, `realmgw help ${c.name}`);
  }
});

test('usage errors exit 2 with one RGW_USAGE line and a hint, nothing on stdout', () => {
  for (const [args, hint] of [
    [['check'], 'realmgw check --help'],
    [['stats', '--config', DEMO, '--frob'], 'realmgw stats --help'],
    [['secret', '--name'], 'realmgw secret --help'],
    [['frobnicate'], 'realmgw --help'],
    [[], 'realmgw --help'],
  ] as const) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^RGW_USAGE: [^\\n]+ \\(try ${hint.replace(/ /g, ' ')}\\)\\n$`), args.join(' '));
  }
});

test('secret prints a new secret and a hash that verifies it; the config line passes check', async () => {
  const r = cli('secret', '--name', 'worker9');
  assert.equal(r.status, 0, r.stderr);
  const secret = /^secret: (\S+)$/m.exec(r.stdout)?.[1];
  const hash = /^secretHash: (\S+)$/m.exec(r.stdout)?.[1];
  assert.ok(secret && hash, r.stdout);
  assert.ok(secret.length >= 43, 'at least 256 bits, base64url');
  const parsed = parseSecretHash(hash);
  assert.ok(parsed, `parses: ${hash}`);
  assert.ok(verifySecret(secret, parsed), 'the hash verifies the printed secret');
  assert.ok(!verifySecret(`${secret}x`, parsed), 'and only that secret');
  assert.match(r.stdout, /secretFile: worker9\.secret/);
  const line = r.stdout.split('\n').find((l) => l.trim().startsWith('- { name: worker9'));
  assert.ok(line, r.stdout);
  const entry = (parse(line.trim()) as { name: string; secretHash: string }[])[0];
  assert.deepEqual(entry, { name: 'worker9', secretHash: hash });
  const cfg = await demoWith((c) => ((c.workers as { workers: unknown[] }).workers = [entry]));
  const check = cli('check', '--config', cfg);
  assert.equal(check.status, 0, check.stderr);

  const json = JSON.parse(cli('secret', '--json').stdout) as { secret: string; secretHash: string; name?: string };
  assert.equal(json.name, undefined);
  assert.ok(verifySecret(json.secret, parseSecretHash(json.secretHash)!));
  assert.notEqual(json.secret, secret, 'a new secret each time');
  assert.match(cli('secret').stdout, /- \{ name: WORKER, secretHash: /);
  const bad = cli('secret', '--name', 'Worker_1');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^RGW_USAGE: --name 'Worker_1' is not a worker name/);
});

test('check --json: ok, counts and warnings for valid files', async () => {
  const r = cli('check', '--json', '--config', DEMO);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(JSON.parse(r.stdout), {
    ok: true,
    config: DEMO,
    counts: { zones: 3, hosts: 2, services: 14, poolAddresses: 3 },
    warnings: [],
    problems: [],
  });
});

test('check --json: every problem with file, line, key and reason; exit 1 and the catalogue line on stderr', async () => {
  const checkJson = (cfg: string) => {
    const r = cli('check', '--json', '--config', cfg);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^RGW_INVALID_INPUT: \d+ problem\(s\) found; nothing was applied\n$/);
    const result = JSON.parse(r.stdout) as { ok: boolean; config: string; counts?: unknown; problems: { file: string; line: number | null; key: string; path: unknown[]; reason: string }[] };
    assert.equal(result.ok, false);
    assert.equal(result.config, cfg);
    assert.equal(result.counts, undefined);
    return result.problems;
  };
  const config = await demoWith((c) => {
    (c.pool as { [k: string]: unknown }).lifetimeMS = 5; // misspelt
    (c.pool as { [k: string]: unknown }).serviceAddress = '100.64.1.300';
  });
  const both = checkJson(config);
  assert.deepEqual(both.map((p) => p.key).sort(), ['pool.lifetimeMS', 'pool.serviceAddress'], 'all problems at once');
  const pool = both.find((p) => p.key === 'pool.serviceAddress')!;
  assert.equal(pool.file, config);
  assert.equal(typeof pool.line, 'number');
  assert.deepEqual(pool.path, ['pool', 'serviceAddress']);
  assert.match(pool.reason, /must be a dotted-quad IPv4 address/);

  const policies = await demoWith((c) => (c.policies = path.join(REPO_ROOT, 'test', 'fixtures', 'policies-typo')));
  const typo = checkJson(policies).find((p) => p.key.endsWith('.protcol'));
  assert.ok(typo);
  assert.match(typo.file, /policies-typo\/hosta\.yaml$/);
  assert.equal(typeof typo.line, 'number');
  assert.equal(typo.key, '"hosta.gwa.demo.".SFQDN[4].protcol');
  assert.deepEqual(typo.path, ['hosta.gwa.demo.', 'SFQDN', 4, 'protcol']);
  assert.match(typo.reason, /did you mean 'protocol'/);
});
