#!/usr/bin/env node
/**
 * The `realmgw` command: parses the command line against the command table (commands.ts), prints help or the
 * version, or runs the command; an error that ends it is reported by report-error.ts (one line, its code).
 */
import { parseCommandLine } from './args.js';
import { COMMANDS } from './commands.js';
import { commandHelp, mainHelp } from './help.js';
import { reportError } from './report-error.js';
import { versionLine } from './version.js';
import { isJournalStream } from '../log/journald.js';

async function main(argv: string[]): Promise<number> {
  const line = parseCommandLine(argv, COMMANDS);
  if (line.kind === 'version') {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (line.kind === 'help') {
    process.stdout.write(line.command ? commandHelp(line.command) : mainHelp(COMMANDS));
    return 0;
  }
  return line.command.run(line.args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    const report = reportError(err);
    // Under journald the failure is an error (priority 3), so `journalctl -p err` shows why the unit stopped.
    const priority = isJournalStream(process.env, 2) ? '<3>' : '';
    for (const l of report.lines) process.stderr.write(`${priority}${l}\n`);
    process.exitCode = report.exit;
  },
);
