/**
 * `npm run demo` does what its hints say (issue 10): the demo script runs as an operator starts it (its own
 * testbed, here under a test prefix), and the hints it prints for the proxy_required names and the static
 * forwards are run exactly as printed, each checked for what its comment promises.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT, TESTBED_SCRIPT } from '../support/repo.js';
import { until } from '../support/until.js';

const PREFIX = `rgwt${randomBytes(3).toString('hex')}-`;

/** The printed hint lines that are commands (continuation comments dropped), with `# …` comments cut off. */
function hintCommands(out: string): string[] {
  const start = out.indexOf('Try these');
  const end = out.indexOf('Ctrl-C stops');
  assert.ok(start >= 0 && end > start, `the demo printed its hints:\n${out.slice(0, 4000)}`);
  return out
    .slice(start, end)
    .split('\n')
    .map((l) => l.replace(/\s{2,}#.*$/, '').trim())
    .filter((l) => l.startsWith('ip netns exec') || l.startsWith('realmgw '));
}

describe('npm run demo: the hints work as printed', { timeout: 300_000 }, () => {
  let demo: ChildProcess;
  let out = '';
  let hints: string[] = [];

  const hint = (includes: string): string => {
    const found = hints.filter((h) => h.includes(includes));
    assert.equal(found.length, 1, `one hint with '${includes}' in:\n${hints.join('\n')}`);
    return found[0];
  };
  /** Runs a hint as printed (from the repository root, as the demo's user would) until its output shows `expect`. */
  const shows = async (command: string, expect: RegExp): Promise<string> => {
    let last = '';
    await until(
      `'${command}' to show ${expect}`,
      async () => {
        const r = await execa('bash', ['-c', command], { cwd: REPO_ROOT, reject: false, timeout: 20_000 });
        last = `${r.stdout}\n${r.stderr}`;
        return expect.test(r.stdout);
      },
      60_000,
    ).catch((err: Error) => assert.fail(`${err.message}; last output:\n${last}`));
    return last;
  };

  before(async () => {
    demo = spawn('bash', ['orchestration/netns/demo.sh'], { cwd: REPO_ROOT, env: { ...process.env, RGW_PREFIX: PREFIX }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until('the demo gateway to run', () => out.includes('realmgw running') || demo.exitCode !== null, 240_000);
    assert.equal(demo.exitCode, null, `demo.sh exited early:\n${out.slice(-4000)}`);
    hints = hintCommands(out);
  });
  after(async () => {
    if (demo && demo.exitCode === null) {
      // SIGINT to the whole group, as Ctrl-C would: the gateway stops, the script's trap removes the testbed
      process.kill(-demo.pid!, 'SIGINT');
      await new Promise((resolve) => demo.once('exit', resolve));
    }
    await execa('bash', [TESTBED_SCRIPT, 'down'], { env: { ...process.env, RGW_PREFIX: PREFIX }, reject: false });
  });

  test('hints name the test prefix, never the operator demo namespaces', () => {
    for (const h of hints.filter((x) => x.startsWith('ip netns'))) assert.ok(h.startsWith(`ip netns exec ${PREFIX}`), h);
  });

  test('proxy_required names: the service address, HTTP relayed by Host, TLS by SNI, unknown names refused', async () => {
    await shows(hint('+short @100.64.1.130 www.hosta.gwa.demo'), /^100\.64\.1\.130$/m);
    await shows(hint('http://www.hosta.gwa.demo/'), /^hosta http saw 192\.168\.0\.1:\d+ GET \/ host www\.hosta\.gwa\.demo$/m);
    await shows(hint('https://www.hostb.gwa.demo/'), /^hostb https saw 192\.168\.0\.1:\d+ GET \/ host www\.hostb\.gwa\.demo$/m);
    await shows(hint("Host: nosuch.gwa.demo"), /^421$/m);
  });

  test('static forwards: dnat shows the client, fullnat the gateway, UDP answers; the SRV and the listing', async () => {
    await shows(hint('100.64.1.130 2222'), /^hosta saw 100\.64\.0\.100:\d+: hello$/m);
    await shows(hint('http://100.64.1.130:8080/'), /^hostb http saw 192\.168\.0\.1:\d+ GET \/ host 100\.64\.1\.130:8080$/m);
    await shows(hint('100.64.1.130 1123'), /^hosta saw 192\.168\.0\.1:\d+: tick$/m);
    await shows(hint('_2222._tcp.ssh-fwd.hosta.gwa.demo SRV'), / 2222 ssh-fwd\.hosta\.gwa\.demo\.$/m);
    const listing = await shows(hint(' forwards --config'), /ntp-hosta/);
    for (const name of ['ssh-hosta', 'web-hostb', 'ntp-hosta']) assert.match(listing, new RegExp(name));
  });
});
