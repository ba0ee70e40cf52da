// The command line against the command table (pure): what each form parses to, and that every mistake is one
// RGW_USAGE error naming the mistake and the help to read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/args.js';
import { COMMANDS } from '../../src/cli/commands.js';
import type { Command } from '../../src/cli/command.js';
import { commandHelp, mainHelp, synopsis } from '../../src/cli/help.js';
import { RealmgwError } from '../../src/errors/realmgw-error.js';

const parse = (...argv: string[]) => parseCommandLine(argv, COMMANDS);

function usageError(argv: string[], message: RegExp, code = 'RGW_USAGE'): void {
  assert.throws(() => parseCommandLine(argv, COMMANDS), (err: unknown) => {
    assert.ok(err instanceof RealmgwError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  }, argv.join(' '));
}

test('a command, its options (either spelling, anywhere on the line) and nothing else', () => {
  const r = parse('--json', 'check', '-c', 'gw.yaml');
  assert.equal(r.kind, 'command');
  assert.equal(r.kind === 'command' && r.command.name, 'check');
  assert.deepEqual(r.kind === 'command' && r.args, { values: { json: true, config: 'gw.yaml' }, operands: [] });
  const eq = parse('stats', '--config=/etc/realmgw/gw.yaml', '--log-level', 'debug');
  assert.deepEqual(eq.kind === 'command' && eq.args.values, { config: '/etc/realmgw/gw.yaml', 'log-level': 'debug' });
  const cleanup = parse('cleanup');
  assert.deepEqual(cleanup.kind === 'command' && [cleanup.command.name, cleanup.args.values], ['cleanup', {}], '--config is optional for cleanup');
});

test('--version, --help, help COMMAND and COMMAND --help', () => {
  assert.deepEqual(parse('--version'), { kind: 'version' });
  assert.deepEqual(parse('run', '--version'), { kind: 'version' });
  assert.deepEqual(parse('--help'), { kind: 'help' });
  assert.deepEqual(parse('help'), { kind: 'help' });
  const check = COMMANDS.find((c) => c.name === 'check');
  assert.deepEqual(parse('help', 'check'), { kind: 'help', command: check });
  assert.deepEqual(parse('check', '--help'), { kind: 'help', command: check }, 'no --config needed for help');
  assert.deepEqual(parse('check', '-h', '--frob'), { kind: 'help', command: check }, 'help wins over a mistake');
});

test('every usage mistake is one line with a hint', () => {
  usageError([], /^no command given \(try realmgw --help\)$/);
  usageError(['frobnicate'], /^unknown command 'frobnicate' \(try realmgw --help\)$/);
  usageError(['help', 'frobnicate'], /^unknown command 'frobnicate'/);
  usageError(['help', 'check', 'run'], /^help takes one command name, got 2/);
  usageError(['check'], /^'check' needs --config FILE \(try realmgw check --help\)$/);
  usageError(['check', '-c', 'x', '--frob'], /^'check' has no option --frob \(try realmgw check --help\)$/);
  usageError(['check', '-c', 'x', '--once'], /^'check' has no option --once/);
  usageError(['secret', '-c', 'x'], /^'secret' has no option -c/);
  usageError(['check', '--config'], /^--config needs a value: --config FILE/);
  usageError(['check', '--config', '--json'], /^--config needs a value/);
  usageError(['check', '--config='], /^--config needs a value/);
  usageError(['check', '-c', 'x', '--json=yes'], /^--json takes no value/);
  usageError(['check', '-c', 'x', 'extra'], /^'check' takes no arguments, got 'extra'/);
  usageError(['run', '-c', 'x', '--log-level', 'loud'], /^--log-level 'loud' is not one of fatal\|error\|warn\|info\|debug\|trace$/, 'RGW_LOG_LEVEL');
});

test('help texts come from the table: every command, its options, its examples', () => {
  const main = mainHelp(COMMANDS);
  for (const c of COMMANDS) assert.match(main, new RegExp(`^  ${c.name} +${c.summary.replace(/[()]/g, '.')}$`, 'm'));
  const fake: Command = {
    name: 'demo',
    summary: 'a demo',
    options: [
      { name: 'config', short: 'c', type: 'string', value: 'FILE', description: 'the file', required: true },
      { name: 'json', type: 'boolean', description: 'JSON' },
    ],
    examples: ['realmgw demo -c x'],
    run: async () => 0,
  };
  assert.equal(synopsis(fake), 'realmgw demo --config FILE [--json]');
  assert.equal(
    commandHelp(fake),
    [
      'realmgw demo - a demo',
      '',
      'Usage: realmgw demo --config FILE [--json]',
      '',
      'Options:',
      '  -c, --config FILE  the file (required)',
      '      --json         JSON',
      '',
      'Example:',
      '  realmgw demo -c x',
      '',
      'Options of every command: -h, --help, --version, --log-level L, --pretty (realmgw --help)',
      '',
    ].join('\n'),
  );
});
