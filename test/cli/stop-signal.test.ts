import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST_DIR } from '../support/repo.js';

const url = (rel: string) => pathToFileURL(path.join(DIST_DIR, rel)).href;

/** A process that waits for a stop signal while an execa child runs, then needs time to clean up. */
function script(waitForStop: string): string {
  return `
    import { CommandRunner } from '${url('src/dataplane/command.js')}';
    import { stopSignal } from '${url('src/cli/stop-signal.js')}';
    import { pino } from 'pino';
    const log = pino({ level: 'silent' });
    const stopped = ${waitForStop};
    void new CommandRunner().run('sleep', ['5']); // in flight when the signal comes (like a counters read)
    setTimeout(() => process.kill(process.pid, 'SIGTERM'), 300);
    await stopped;
    console.log('stop requested');
    await new Promise((r) => setTimeout(r, 300)); // removing kernel state takes a while
    process.kill(process.pid, 'SIGINT'); // an impatient second Ctrl-C must not cut it short either
    await new Promise((r) => setTimeout(r, 300));
    console.log('cleaned up');
    process.exit(0);
  `;
}

function run(waitForStop: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script(waitForStop)], { cwd: path.dirname(DIST_DIR), encoding: 'utf8', timeout: 20_000 });
}

test('a stop signal while an execa child runs leaves time to clean up; a second signal does not cut it short', () => {
  const r = run('stopSignal(log)');
  assert.equal(r.status, 0, `${r.signal ?? ''} ${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, 'stop requested\ncleaned up\n');
});

test('the trap it avoids is real: a once-listener lets execa re-raise the signal and kill the process', () => {
  const r = run(`new Promise((resolve) => process.once('SIGTERM', resolve))`);
  assert.equal(r.signal, 'SIGTERM', `${r.status} ${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout, /cleaned up/);
});
