import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CLI_PATH, makeTempDir, REPO_ROOT, writeTempYaml } from '../support/repo.js';
import { DEMO, demoWith } from '../support/compile-config.js';


function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


test('check accepts the shipped demo config', () => {
  const r = cli('check', '--config', DEMO);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok: .*3 zones, 2 hosts, 14 service names, 3 pool addresses/);
});

test('check on a policy folder with a typo names the file, the key path and the reason', async () => {
  const cfg = await demoWith((c) => (c.policies = path.join(REPO_ROOT, 'test', 'fixtures', 'policies-typo')));
  const r = cli('check', '--config', cfg);
  assert.equal(r.code, 1);
  const line = r.stderr.split('\n').find((l) => l.includes('protcol'));
  assert.ok(line, r.stderr);
  assert.match(line, /policies-typo\/hosta\.yaml:\d+: /, 'file and line');
  assert.ok(line.includes(`"hosta.gwa.demo.".SFQDN[4].protcol`), `key path in: ${line}`);
  assert.match(line, /unknown key.*did you mean 'protocol'/, 'reason');
  assert.match(r.stderr, /nothing was applied/);
});

test('check reports config problems with key path and line, all of them at once', async () => {
  const cfg = await demoWith((c) => {
    (c.pool as { [k: string]: unknown }).lifetimeMS = 5; // misspelt
    (c.pool as { [k: string]: unknown }).serviceAddress = '100.64.1.300';
  });
  const r = cli('check', '--config', cfg);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /:\d+: pool\.lifetimeMS: .*[Uu]nrecognized key/);
  assert.match(r.stderr, /:\d+: pool\.serviceAddress: must be a dotted-quad IPv4 address/);
});

test('usage errors exit 2; --help exits 0', () => {
  assert.equal(cli('run').code, 2);
  assert.equal(cli('frobnicate', '--config', DEMO).code, 2);
  const help = cli('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^ {2}run {2,}start the gateway/m);
});

test('check refuses proxy_required names without a proxy section, and carriergrade names, which nothing serves yet', async () => {
  const dir = await makeTempDir('policies');
  await writeTempYaml(
    {
      'hosta.gwa.demo.': {
        ID: { fqdn: ['hosta.gwa.demo.'], ipv4: ['192.168.0.100'] },
        CARRIERGRADE: [{ ipv4: '192.168.0.200' }],
        SFQDN: [
          { fqdn: 'web.hosta.gwa.demo.', protocol: 6, port: 443, proxy_required: true },
          { fqdn: 'cg.hosta.gwa.demo.', carriergrade: true },
        ],
      },
    },
    { dir, name: 'hosta.yaml' },
  );
  const cfg = await demoWith((c) => {
    c.policies = dir;
    delete c.proxy;
  });
  const r = cli('check', '--config', cfg);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /SFQDN\[0\]\.proxy_required: .*no 'proxy:' section/);
  assert.match(r.stderr, /SFQDN\[1\]\.carriergrade: .*not supported yet/);
});

test('check reports a firewall rule realmgw cannot express, with file, line and key path, when the data plane is on', async () => {
  const dir = await makeTempDir('policies');
  await writeTempYaml(
    [
      "hosta.gwa.demo.:",
      "  ID: {fqdn: ['hosta.gwa.demo.'], ipv4: ['192.168.0.100']}",
      "  SFQDN: [{fqdn: 'www.hosta.gwa.demo.', protocol: 6, port: 80}]",
      "  FIREWALL:",
      "    FIREWALL_USER:",
      "      - {priority: 10, direction: EGRESS, src: '10.0.0.0/8', target: DROP}",
      '',
    ].join('\n'),
    { dir, name: 'hosta.yaml' },
  );
  const cfg = await demoWith((c) => (c.policies = dir));
  const r = cli('check', '--config', cfg);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /hosta\.yaml:6: "hosta\.gwa\.demo\.".FIREWALL\.FIREWALL_USER.*: .*never match/);
});

test("check prints warnings for keys Realm Gateway ignored and still passes", async () => {
  const dir = await makeTempDir('policies');
  await writeTempYaml(
    [
      "hosta.gwa.demo.:",
      "  ID: {fqdn: ['hosta.gwa.demo.'], ipv4: ['192.168.0.100']}",
      "  SFQDN:",
      "    - {fqdn: 'udp.hosta.gwa.demo.', protocol: 17, port: 1234, loose_packet: -1, autobind: false, timeout: 3600}",
      '',
    ].join('\n'),
    { dir, name: 'hosta.yaml' },
  );
  const cfg = await demoWith((c) => (c.policies = dir));
  const r = cli('check', '--config', cfg);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok: /);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 2, r.stderr);
  assert.match(warnings[0], /^warning: .*hosta\.yaml:4: "hosta\.gwa\.demo\.".SFQDN\[0\]\.autobind: ignored, as Realm Gateway ignored it/);
  assert.match(warnings[1], /^warning: .*hosta\.yaml:4: "hosta\.gwa\.demo\.".SFQDN\[0\]\.timeout: ignored, as Realm Gateway ignored it/);
});
