import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { isJournalStream, journalDestination, journalPriority } from '../../src/log/journald.js';
import { CLI_PATH, DIST_DIR, makeTempDir } from '../support/repo.js';

test('pino levels map to syslog priorities: fatal 2, error 3, warn 4, info 6, debug and trace 7', () => {
  assert.deepEqual([60, 50, 40, 30, 20, 10].map(journalPriority), [2, 3, 4, 6, 7, 7]);
});

test('each line starts with its priority; the JSON after it is what pino wrote', () => {
  const out: string[] = [];
  const log = pino({ level: 'trace', name: 'realmgw' }, journalDestination({ write: (line: string) => out.push(line) }));
  log.fatal('f');
  log.error('e');
  log.warn({ pool: 3 }, 'w');
  log.info('i');
  log.child({ component: 'dataplane' }).debug('d');
  log.trace('t');
  assert.deepEqual(out.map((l) => l.slice(0, 3)), ['<2>', '<3>', '<4>', '<6>', '<7>', '<7>']);
  const warn = JSON.parse(out[2]!.slice(3));
  assert.equal(warn.msg, 'w');
  assert.equal(warn.pool, 3);
  assert.ok(out.every((l) => l.endsWith('}\n')));
});

test('JOURNAL_STREAM counts only when it names the descriptor itself', async () => {
  const file = join(await makeTempDir('journal'), 'stream');
  const fd = openSync(file, 'w');
  try {
    const s = fstatSync(fd);
    assert.equal(isJournalStream({ JOURNAL_STREAM: `${s.dev}:${s.ino}` }, fd), true);
    assert.equal(isJournalStream({ JOURNAL_STREAM: `${s.dev}:${s.ino + 1}` }, fd), false, 'stdout was redirected since');
    assert.equal(isJournalStream({}, fd), false);
    assert.equal(isJournalStream({ JOURNAL_STREAM: 'journal' }, fd), false);
  } finally {
    closeSync(fd);
  }
  assert.equal(isJournalStream({ JOURNAL_STREAM: '1:2' }, 9999), false, 'a closed descriptor');
});

/** Runs `node args` with stdout and stderr on one file that JOURNAL_STREAM names (or not); returns the file's text. */
async function runOnStream(args: string[], journal: boolean): Promise<string> {
  const file = join(await makeTempDir('journal'), 'out');
  const fd = openSync(file, 'w');
  const s = fstatSync(fd);
  const env = { ...process.env, JOURNAL_STREAM: journal ? `${s.dev}:${s.ino}` : '' };
  spawnSync(process.execPath, args, { stdio: ['ignore', fd, fd], env, timeout: 30_000 });
  closeSync(fd);
  return readFileSync(file, 'utf8');
}

test("realmgw's logger prefixes its lines under journald, and only there", async () => {
  const log = join(DIST_DIR, 'src', 'log.js');
  const script = `const { createLogger } = await import(${JSON.stringify(log)}); const l = createLogger('info', false); l.warn('careful'); l.info('fine'); l.error('broken');`;
  const args = ['--input-type=module', '-e', script];
  const journal = (await runOnStream(args, true)).trimEnd().split('\n');
  assert.deepEqual(journal.map((l) => l.slice(0, 4)), ['<4>{', '<6>{', '<3>{']);
  const plain = (await runOnStream(args, false)).trimEnd().split('\n');
  assert.deepEqual(plain.map((l) => l.slice(0, 1)), ['{', '{', '{']);
});

test('a command that fails under journald prints its error at priority 3', async () => {
  const out = await runOnStream([CLI_PATH, 'check', '--config', '/nonexistent/realmgw.yaml'], true);
  assert.match(out, /^<3>.*\n<3>RGW_INVALID_INPUT: 1 problem\(s\) found; nothing was applied\n$/);
});
