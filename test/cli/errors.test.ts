// The CLI as an operator meets it: each mistake ends in one `CODE: message` line on stderr, the catalogued exit
// status and no stack trace. Runs the built CLI; nothing here touches the kernel (every case fails before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CLI_PATH, makeTempDir, REPO_ROOT, writeTempFile, writeTempYaml } from '../support/repo.js';
import { DEMO, demoWith } from '../support/compile-config.js';


function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The run ended with `code: message` as the last stderr line, the given status and no stack frame anywhere. */
function assertEndsWith(r: ReturnType<typeof cli>, status: number, code: string, message: RegExp): string[] {
  const lines = r.stderr.trimEnd().split('\n');
  const last = code === 'RGW_USAGE' ? lines[0] : lines[lines.length - 1];
  assert.equal(r.status, status, r.stderr);
  assert.ok(last.startsWith(`${code}: `), `expected ${code}: in ${r.stderr}`);
  assert.match(last.slice(code.length + 2), message);
  assert.ok(!r.stderr.includes('    at '), `stack trace in: ${r.stderr}`);
  return lines;
}


/** Ten levels of ten aliases each: 10^10 nodes once expanded, 11 lines on disk. */
function aliasBomb(key = 'l'): string {
  const lines = [`${key}0: &${key}0 [x, x, x, x, x, x, x, x, x, x]`];
  for (let i = 1; i <= 10; i++) lines.push(`${key}${i}: &${key}${i} [${Array(10).fill(`*${key}${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

test('a bad --log-level is a usage error before anything is loaded (run, worker, check)', () => {
  for (const command of ['run', 'worker', 'check']) {
    const r = cli(command, '--config', DEMO, '--log-level', 'loud');
    assertEndsWith(r, 2, 'RGW_LOG_LEVEL', /^--log-level 'loud' is not one of fatal\|error\|warn\|info\|debug\|trace$/);
    assert.equal(r.stdout, '', `${command} started something`);
  }
});

test('an unknown command is one RGW_USAGE line that points at the help', () => {
  const r = cli('frobnicate', '--config', DEMO);
  assertEndsWith(r, 2, 'RGW_USAGE', /^unknown command 'frobnicate' \(try realmgw --help\)$/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
});

test('a missing config file names the file, for the gateway and for a worker', () => {
  const missing = path.join(REPO_ROOT, 'no-such-config.yaml');
  for (const command of ['check', 'run', 'worker']) {
    const lines = assertEndsWith(cli(command, '--config', missing), 1, 'RGW_INVALID_INPUT', /^1 problem\(s\) found; nothing was applied$/);
    assert.match(lines[0], /no-such-config\.yaml: \(top level\): cannot read: ENOENT/);
  }
});

test('a YAML alias bomb in the config is an input problem, not a crash', async () => {
  const cfg = await writeTempYaml(aliasBomb());
  const lines = assertEndsWith(cli('check', '--config', cfg), 1, 'RGW_INVALID_INPUT', /^1 problem\(s\) found/);
  assert.equal(lines[0], `${cfg}: (top level): YAML: Excessive alias count indicates a resource exhaustion attack`);
});

test('a YAML alias bomb in a policy file is an input problem, not a crash', async () => {
  const dir = await makeTempDir('policies-bomb');
  const file = await writeTempFile('bomb.yaml', aliasBomb('h'), { dir });
  const cfg = await demoWith((c) => (c.policies = dir));
  const lines = assertEndsWith(cli('check', '--config', cfg), 1, 'RGW_INVALID_INPUT', /^1 problem\(s\) found/);
  assert.equal(lines[0], `${file}: (top level): YAML: Excessive alias count indicates a resource exhaustion attack`);
});

test('a zone folder or a policy folder that cannot be read names the folder', async () => {
  const notAFolder = await writeTempFile('plain-file', 'not a folder\n');
  const missing = path.join(await makeTempDir('empty'), 'nowhere');
  const zones = assertEndsWith(cli('check', '--config', await demoWith((c) => (c.zones = missing))), 1, 'RGW_INVALID_INPUT', /problem\(s\) found; nothing was applied$/);
  assert.ok(zones.some((l) => l.startsWith(`${missing}: (top level): cannot read the zone folder: ENOENT`)), zones.join('\n'));
  const policies = assertEndsWith(cli('check', '--config', await demoWith((c) => (c.policies = notAFolder))), 1, 'RGW_INVALID_INPUT', /problem\(s\) found; nothing was applied$/);
  assert.ok(policies.some((l) => l.startsWith(`${notAFolder}: (top level): cannot read the policy folder: ENOTDIR`)), policies.join('\n'));
});

test('workers: an admin socket nobody serves is RGW_ADMIN_UNREACHABLE; no admin section is RGW_ADMIN_NOT_CONFIGURED', async () => {
  const socket = path.join(await makeTempDir('admin'), 'nobody.sock');
  const down = await demoWith((c) => (c.admin = { socket }));
  assertEndsWith(cli('workers', '--config', down), 1, 'RGW_ADMIN_UNREACHABLE', new RegExp(`^cannot read workers from ${socket}: connect ENOENT`));
  const none = await demoWith((c) => delete c.admin);
  assertEndsWith(cli('workers', '--config', none), 1, 'RGW_ADMIN_NOT_CONFIGURED', /has no admin\.socket/);
});

test('rules without a dataplane section is RGW_RULES_RENDER and prints no ruleset', async () => {
  const cfg = await demoWith((c) => {
    delete c.dataplane;
    delete c.forwards; // they live in the data plane's table: check would refuse them first
  });
  const r = cli('rules', '--config', cfg);
  assertEndsWith(r, 1, 'RGW_RULES_RENDER', /no 'dataplane' section/);
  assert.equal(r.stdout, '');
});

test('worker --once that cannot reach its gateway gives up with RGW_WORKER_FAILED', async () => {
  const dir = await makeTempDir('worker');
  await writeTempFile('w1.secret', 'a-secret-long-enough-for-the-check-0123456789\n', { dir });
  const yaml = 'name: w1\ngateway: { address: 127.0.0.1, port: 9 }\nsecretFile: w1.secret\nservices:\n  - { port: 10053, protocol: tcp }\nretry: { giveUpMs: 300, initialMs: 50 }\n';
  const r = cli('worker', '--once', '--config', await writeTempFile('w1.yaml', yaml, { dir }));
  assertEndsWith(r, 1, 'RGW_WORKER_FAILED', /^worker agent: /);
  assert.equal(r.stdout, '', 'no endpoints printed');
});

test('run that cannot bind its DNS listener ends with RGW_START_FAILED, the details in its log', async () => {
  // DNS only (no dataplane, forwards, workers, STUN or relay; one host without proxy_required names), so nothing
  // reaches the kernel or binds before DNS; 192.0.2.x (TEST-NET-1) is never local.
  const policies = await makeTempDir('policies');
  await writeTempFile('hosta.yaml', "hosta.gwa.demo.:\n  ID: {ipv4: ['192.168.0.100']}\n  SFQDN: [{fqdn: 'ssh.hosta.gwa.demo.', protocol: 6, port: 22}]\n", { dir: policies });
  const cfg = await demoWith((c) => {
    for (const key of ['dataplane', 'forwards', 'workers', 'stun', 'proxy']) delete c[key];
    c.policies = policies;
    const dns = c.dns as { wan: { listen: { address: string }[] }; lan: { listen: { address: string }[] } };
    dns.wan.listen = [{ address: '192.0.2.1' }];
    dns.lan.listen = [{ address: '192.0.2.2' }];
    delete c.admin;
  });
  const r = cli('run', '--config', cfg);
  assertEndsWith(r, 1, 'RGW_START_FAILED', /^the gateway failed to start: .*EADDRNOTAVAIL 192\.0\.2\.\d:53$/);
  assert.match(r.stdout, /"msg":"gateway failed to start"/, 'the log line keeps the whole error');
});
