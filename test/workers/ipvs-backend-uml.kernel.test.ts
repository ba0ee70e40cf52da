// The guest harness the ipvs backend test relies on (test/support/uml.ts): a guest's status and output come
// back as they are, and a guest that hangs is killed at the timeout, leaving no process and no file behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { requireUml, runInUml } from '../support/uml.js';

const ourTempDirs = () => readdirSync('/tmp').filter((n) => /^rgwt[0-9a-f]{8}-uml-/.test(n));

describe('user-mode Linux guest harness', { timeout: 60_000 }, () => {
  it('returns the script\'s exit status and output, and cleans up', async () => {
    requireUml();
    const before = ourTempDirs();
    const r = await runInUml({ script: 'echo "guest says $(uname -r) $(cat /proc/sys/kernel/osrelease)"\nexit 3\n' });
    assert.equal(r.code, 3, r.output);
    assert.match(r.output, /^guest says (\S+) \1$/m);
    assert.deepEqual(ourTempDirs(), before);
  });

  it('kills a guest that does not finish in time', async () => {
    requireUml();
    const r = await runInUml({ script: 'echo started\nsleep 600\n', timeoutMs: 8_000 });
    assert.equal(r.timedOut, true, r.output);
    assert.equal(r.code, undefined); // a guest left to its sleep would outlive this suite's timeout instead
    const left = spawnSync('pgrep', ['-f', `umid=${r.id} `], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', `guest processes left: ${left}`);
  });
});
