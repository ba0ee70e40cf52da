import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describeHolder, InstanceLock, lockPathFor } from '../../src/ops/instance-lock.js';
import { DIST_DIR, makeTempDir } from '../support/repo.js';

test('the lock lives beside the admin socket, or in /run/realmgw without one', () => {
  assert.equal(lockPathFor({ admin: { socket: '/run/realmgw/admin.sock' } }), '/run/realmgw/realmgw.lock');
  assert.equal(lockPathFor({ admin: { socket: '/tmp/gw/a.sock' } }), '/tmp/gw/realmgw.lock');
  assert.equal(lockPathFor({}), '/run/realmgw/realmgw.lock');
  assert.equal(lockPathFor(undefined), '/run/realmgw/realmgw.lock');
  assert.equal(lockPathFor({}, false), undefined, 'DNS only, no admin socket: nothing to share but its ports');
  assert.equal(lockPathFor({ admin: { socket: '/tmp/gw/a.sock' } }, false), '/tmp/gw/realmgw.lock');
});

test('the holder is named by its pid and command line', () => {
  assert.deepEqual(describeHolder('4242\n', '/usr/bin/node\0/usr/local/lib/realmgw/main.js\0run\0--config\0/etc/realmgw/realmgw.yaml\0'), {
    pid: '4242',
    command: '/usr/bin/node /usr/local/lib/realmgw/main.js run --config /etc/realmgw/realmgw.yaml',
  });
  assert.deepEqual(describeHolder('4242\n', undefined), { pid: '4242', command: 'unknown (no /proc entry)' });
  assert.equal(describeHolder('', undefined).pid, 'unknown (it has not written it yet)');
});

test('a second lock on the same file is refused with the holder named, and taken once released', async () => {
  const path = join(await makeTempDir('lock'), 'run', 'realmgw.lock');
  const first = InstanceLock.acquire(path);
  assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
  const cmdline = readFileSync('/proc/self/cmdline', 'latin1').replace(/\0+$/, '').split('\0').join(' ');
  assert.throws(() => InstanceLock.acquire(path), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'RGW_ALREADY_RUNNING');
    assert.equal(err.message, `another realmgw holds ${path}: pid ${process.pid} (${cmdline}); nothing was changed`);
    return true;
  });
  assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'the refused one wrote nothing');
  first.release();
  const second = InstanceLock.acquire(path);
  second.release();
});

test('a lock dies with its process, even a SIGKILLed one: no stale lock', async () => {
  const path = join(await makeTempDir('lock'), 'realmgw.lock');
  const module = join(DIST_DIR, 'src', 'ops', 'instance-lock.js');
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `const { InstanceLock } = await import(${JSON.stringify(module)}); InstanceLock.acquire(${JSON.stringify(path)}); console.log('held'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
  assert.equal((await lines.next()).value, 'held');
  assert.throws(() => InstanceLock.acquire(path), new RegExp(`pid ${holder.pid} \\(${process.execPath.replace(/[/.]/g, '\\$&')} --input-type=module -e `));
  holder.kill('SIGKILL');
  await exited;
  // The kernel closed the dead process's descriptors before its parent heard of the exit.
  const taken = InstanceLock.acquire(path);
  assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'the new holder replaced the dead one');
  taken.release();
});

test('a lock file that cannot be made is RGW_INSTANCE_LOCK, naming it', async () => {
  const file = join(await makeTempDir('lock'), 'not-a-dir');
  writeFileSync(file, '');
  assert.throws(() => InstanceLock.acquire(join(file, 'realmgw.lock')), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'RGW_INSTANCE_LOCK');
    assert.match(err.message, /^cannot take the instance lock .*not-a-dir\/realmgw\.lock: E[A-Z]+/);
    return true;
  });
});
