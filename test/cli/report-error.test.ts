import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportError } from '../../src/cli/report-error.js';
import { InputError } from '../../src/errors.js';
import { RealmgwError, errorMessage } from '../../src/errors/realmgw-error.js';
import { KernelStateError } from '../../src/dataplane/kernel-state.js';
import { PoolError } from '../../src/pool/pool-error.js';
import { StateFileError } from '../../src/workers/errors.js';

test('input problems keep their file:line: key.path: reason lines above the RGW_INVALID_INPUT line', () => {
  const err = new InputError([
    { file: '/etc/realmgw/gw.yaml', path: ['pool', 'lifetimeMS'], line: 7, reason: 'unknown key' },
    { file: '/etc/realmgw/zones', path: [], reason: 'cannot read the zone folder: ENOENT' },
  ]);
  assert.deepEqual(reportError(err), {
    lines: ['/etc/realmgw/gw.yaml:7: pool.lifetimeMS: unknown key', '/etc/realmgw/zones: (top level): cannot read the zone folder: ENOENT', 'RGW_INVALID_INPUT: 2 problem(s) found; nothing was applied'],
    exit: 1,
  });
});

test('a catalogued error is one code: message line with the catalogued exit status', () => {
  assert.deepEqual(reportError(new RealmgwError('RGW_USAGE', { reason: "unknown command 'x'", hint: 'realmgw --help' })), { lines: ["RGW_USAGE: unknown command 'x' (try realmgw --help)"], exit: 2 });
  assert.deepEqual(reportError(new KernelStateError('nft', 'nft -f failed:\nError: No such file')), {
    lines: ['RGW_KERNEL_STATE: kernel state, nft: nft -f failed:\nError: No such file'],
    exit: 1,
  });
  assert.deepEqual(reportError(new StateFileError('RGW_STATE_VERSION', '/var/lib/realmgw/workers.json', 'version 2')), {
    lines: ['RGW_STATE_VERSION: /var/lib/realmgw/workers.json: version 2'],
    exit: 1,
  });
});

test('an uncatalogued error or one without an exit status is a bug: RGW_INTERNAL with its stack', () => {
  for (const err of [new TypeError('x is undefined'), new PoolError('hostId must be canonical')]) {
    const r = reportError(err);
    assert.equal(r.exit, 1);
    assert.match(r.lines[0], /^RGW_INTERNAL: unexpected error \(please report it\): \w*Error: /);
    assert.match(r.lines[0], /\n {4}at /, 'a bug report needs the stack');
  }
  assert.deepEqual(reportError('a string'), { lines: ['RGW_INTERNAL: unexpected error (please report it): a string'], exit: 1 });
});

test('templates are filled in one pass: braces inside a value stay as they are', () => {
  assert.equal(errorMessage('RGW_RULES_RENDER', { reason: 'bad {reason} in {x}' }), 'the kernel state cannot be rendered: bad {reason} in {x}');
  assert.equal(errorMessage('RGW_COMMAND_FAILED', { command: 'ipset restore', status: 1, stderr: '' }), 'ipset restore: exit 1');
});
