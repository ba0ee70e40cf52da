import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThrottledLog } from '../../src/log/throttle.js';

function setup(intervalMs = 1000) {
  let now = 0;
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = new ThrottledLog({ error: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }) }, intervalMs, () => now);
  return { log, lines, advance: (ms: number) => (now += ms) };
}

test('the first error of a kind is written, repeats within the interval are only counted', () => {
  const { log, lines } = setup();
  for (let i = 0; i < 10_000; i++) log.error('send', { client: `10.0.0.${i % 250}` }, 'send failed');
  assert.equal(lines.length, 1);
  assert.equal(lines[0].obj.kind, 'send');
  assert.equal(lines[0].obj.client, '10.0.0.0');
  assert.equal(log.pending('send'), 9_999);
});

test('after the interval the next error is written with the count it stands for', () => {
  const { log, lines, advance } = setup();
  log.error('send', {}, 'send failed');
  for (let i = 0; i < 5; i++) log.error('send', {}, 'send failed');
  advance(999);
  log.error('send', {}, 'send failed');
  assert.equal(lines.length, 1);
  advance(1);
  log.error('send', {}, 'send failed');
  assert.equal(lines.length, 2);
  assert.equal(lines[1].obj.suppressed, 6);
  assert.equal(log.pending('send'), 0);
});

test('kinds are throttled independently', () => {
  const { log, lines } = setup();
  log.error('a', {}, 'a failed');
  log.error('b', {}, 'b failed');
  log.error('a', {}, 'a failed');
  assert.deepEqual(lines.map((l) => l.obj.kind), ['a', 'b']);
});

test('flush writes pending counts once, then nothing', () => {
  const { log, lines } = setup();
  log.error('a', {}, 'a failed');
  log.error('a', {}, 'a failed');
  log.error('b', {}, 'b failed');
  log.flush();
  assert.equal(lines.length, 3);
  assert.equal(lines[2].obj.kind, 'a');
  assert.equal(lines[2].obj.suppressed, 1);
  log.flush();
  assert.equal(lines.length, 3);
});

test('the number of kinds remembered is bounded', () => {
  const { log, lines } = setup();
  for (let i = 0; i < 1000; i++) log.error(`k${i}`, {}, 'x');
  assert.ok(lines.length <= 257, `${lines.length} lines`);
});
