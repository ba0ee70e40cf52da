// The README's Commands table against the command table: the same commands, and every example in it parses
// (a command the README shows but the CLI refuses would be the first thing a new operator types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { REPO_ROOT } from '../support/repo.js';

function commandsSection(): string[][] {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Commands\n'));
  assert.ok(section, 'README has a Commands section');
  return section
    .split('\n')
    .filter((l) => /^\| `/.test(l))
    .map((l) => l.split(' | ').map((c) => c.replace(/^\| |\|$/g, '').trim()));
}

test("the README's Commands table lists exactly the CLI's commands, and its examples parse", () => {
  const rows = commandsSection();
  assert.deepEqual(rows.map((r) => r[0].replace(/`/g, '')), COMMANDS.map((c) => c.name));
  for (const row of rows) {
    const example = /`(?:ip netns exec \S+ )?realmgw ([^`]+)`$/.exec(row[row.length - 1]);
    assert.ok(example, `an example for ${row[0]}: ${row[row.length - 1]}`);
    const line = parseCommandLine(example[1].split(' '), COMMANDS);
    assert.equal(line.kind === 'command' && line.command.name, row[0].replace(/`/g, ''), example[1]);
  }
});
