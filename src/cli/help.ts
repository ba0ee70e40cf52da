/**
 * The help texts, made from the command table (pure): `realmgw --help` lists the commands, `realmgw <command>
 * --help` (or `realmgw help <command>`) shows one command's options and examples. Generated, so they cannot
 * drift from what the parser accepts.
 */
import { GLOBAL_OPTIONS, optionLabel, type Command, type OptionSpec } from './command.js';

function optionLines(options: readonly OptionSpec[]): string[] {
  const left = options.map((o) => `${o.short ? `-${o.short}, ` : '    '}${optionLabel(o)}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return options.map((o, i) => `  ${left[i].padEnd(width)}${o.description}${o.required ? ' (required)' : ''}`);
}

/** `realmgw check --config FILE [--json]` */
export function synopsis(command: Command): string {
  const parts = command.options.map((o) => (o.required ? optionLabel(o) : `[${optionLabel(o)}]`));
  return ['realmgw', command.name, ...parts, ...(command.operands ? [command.operands] : [])].join(' ');
}

export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'realmgw - DNS-driven realm gateway',
    '',
    'Usage: realmgw <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "realmgw <command> --help (or realmgw help <command>) shows a command's options and an example.",
    'Exit status: 0 ok, 1 invalid input or failure, 2 usage error.',
    'Errors are printed as CODE: message; the README lists every code.',
    '',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `realmgw ${command.name} - ${command.summary}`,
    '',
    `Usage: ${synopsis(command)}`,
    ...(command.description ? ['', command.description] : []),
    ...(command.options.length ? ['', 'Options:', ...optionLines(command.options)] : []),
    '',
    command.examples.length > 1 ? 'Examples:' : 'Example:',
    ...command.examples.map((e) => `  ${e}`),
    '',
    `Options of every command: ${GLOBAL_OPTIONS.map((o) => (o.short ? `-${o.short}, ` : '') + optionLabel(o)).join(', ')} (realmgw --help)`,
    '',
  ].join('\n');
}
