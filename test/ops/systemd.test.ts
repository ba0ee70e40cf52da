import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { followReadiness, notifyMessage, notifyTarget, notReadyStatus, SystemdNotifier } from '../../src/ops/systemd.js';
import { processCalls } from '../../src/ops/process-calls.js';
import { Readiness } from '../../src/ops/readiness.js';
import { makeTempDir } from '../support/repo.js';
import { HAS_PYTHON, notifyReceiver } from '../support/notify-receiver.js';

test('outside systemd nothing is sent and nothing fails', () => {
  const sent: string[] = [];
  const n = new SystemdNotifier(notifyTarget({}, 7), (_s, m) => sent.push(m));
  assert.equal(n.active, false);
  assert.equal(n.ready('x'), false);
  assert.equal(n.reloading(), false);
  assert.equal(n.stopping(), false);
  n.startWatchdog()();
  assert.deepEqual(sent, []);
});

test('NOTIFY_SOCKET: a path or an abstract @name; anything else means no systemd', () => {
  assert.deepEqual(notifyTarget({ NOTIFY_SOCKET: '/run/systemd/notify' }, 7), { socket: '/run/systemd/notify' });
  assert.deepEqual(notifyTarget({ NOTIFY_SOCKET: '@sd-notify' }, 7), { socket: '@sd-notify' });
  for (const bad of ['', '@', 'relative/path', 'vsock:2:1234']) assert.deepEqual(notifyTarget({ NOTIFY_SOCKET: bad }, 7), {}, bad);
});

test('the watchdog pings every half WATCHDOG_USEC, only for the process WATCHDOG_PID names', () => {
  const env = { NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '30000000' };
  assert.equal(notifyTarget(env, 7).watchdogIntervalMs, 15_000);
  assert.equal(notifyTarget({ ...env, WATCHDOG_PID: '7' }, 7).watchdogIntervalMs, 15_000);
  assert.equal(notifyTarget({ ...env, WATCHDOG_PID: '8' }, 7).watchdogIntervalMs, undefined, "a parent's watchdog");
  assert.equal(notifyTarget({ ...env, WATCHDOG_USEC: '0' }, 7).watchdogIntervalMs, undefined);
  assert.equal(notifyTarget({ ...env, WATCHDOG_USEC: 'soon' }, 7).watchdogIntervalMs, undefined);
  assert.equal(notifyTarget({ WATCHDOG_USEC: '30000000' }, 7).watchdogIntervalMs, undefined, 'no socket, no pings');
});

test('startWatchdog pings at once and on every interval until stopped', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const sent: string[] = [];
  const n = new SystemdNotifier({ socket: '/n', watchdogIntervalMs: 1000 }, (_s, m) => sent.push(m));
  const stop = n.startWatchdog();
  assert.deepEqual(sent, ['WATCHDOG=1']);
  t.mock.timers.tick(3000);
  assert.equal(sent.length, 4);
  stop();
  t.mock.timers.tick(5000);
  assert.equal(sent.length, 4);
});

test('the messages are sd_notify lines; STATUS stays on one line', () => {
  assert.equal(notifyMessage.ready(), 'READY=1');
  assert.equal(notifyMessage.ready('serving\nDNS'), 'READY=1\nSTATUS=serving DNS');
  assert.equal(notifyMessage.reloading(123n), 'RELOADING=1\nMONOTONIC_USEC=123');
  assert.equal(notifyMessage.stopping(), 'STOPPING=1');
  const sent: string[] = [];
  new SystemdNotifier({ socket: '/n' }, (_s, m) => sent.push(m)).reloading();
  const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(sent[0]!)![1]!);
  const now = process.hrtime.bigint() / 1000n;
  assert.ok(usec <= now && usec > 0n, 'CLOCK_MONOTONIC microseconds, as systemd reads them');
});

test('a failed send is reported once and never thrown', () => {
  const warned: unknown[] = [];
  const log = { warn: (o: unknown) => warned.push(o) } as never;
  const n = new SystemdNotifier({ socket: '/n' }, () => {
    throw Object.assign(new Error('sendto: Connection refused'), { code: 'ECONNREFUSED' });
  }, log);
  assert.equal(n.ready(), false);
  assert.equal(n.stopping(), false);
  assert.equal(warned.length, 1);
});

test('READY=1 when the readiness turns true (and at once if it is), STATUS with the reasons when it turns false', () => {
  const sent: string[] = [];
  const n = new SystemdNotifier({ socket: '/n' }, (_s, m) => sent.push(m));
  const r = new Readiness(() => 0);
  r.require('started', 'starting');
  r.require('kernel', 'not installed yet');
  followReadiness(r, n, () => 'serving');
  assert.deepEqual(sent, []);
  r.set('started', true, 'started');
  r.set('kernel', true, 'installed');
  assert.deepEqual(sent, ['READY=1\nSTATUS=serving']);
  r.set('kernel', false, 'table missing');
  assert.deepEqual(sent.at(-1), 'STATUS=not ready: kernel: table missing');
  assert.equal(notReadyStatus(r.view()), 'not ready: kernel: table missing');
  const late: string[] = [];
  followReadiness(new Readiness(() => 0), new SystemdNotifier({ socket: '/n' }, (_s, m) => late.push(m)), () => 'x');
  assert.deepEqual(late, [], 'no conditions: not ready');
});

test('the addon sends real datagrams to a socket path and to an abstract socket', { skip: HAS_PYTHON ? false : 'python3 missing (the test receiver)' }, async (t) => {
  const dir = await makeTempDir('notify');
  for (const address of [join(dir, 'notify.sock'), `@realmgw-test-${randomBytes(6).toString('hex')}`]) {
    const r = await notifyReceiver(address);
    t.after(r.close);
    const n = new SystemdNotifier(notifyTarget({ NOTIFY_SOCKET: address }, process.pid));
    assert.equal(n.ready('serving DNS'), true);
    assert.equal(await r.next(), 'READY=1\nSTATUS=serving DNS');
    assert.equal(n.stopping(), true);
    assert.equal(await r.next(), 'STOPPING=1');
  }
  assert.throws(() => processCalls().sdNotify(join(dir, 'nobody-listens.sock'), 'READY=1'), { code: 'ENOENT' });
  assert.throws(() => processCalls().sdNotify('relative', 'READY=1'), TypeError);
  assert.throws(() => processCalls().sdNotify('/' + 'x'.repeat(107), 'READY=1'), { code: 'ENAMETOOLONG' }, 'sun_path holds 107 bytes and a NUL');
});
