/**
 * The command line, parsed against the command table (pure: no I/O, so every case is a unit test). A mistake
 * is one RGW_USAGE line that says what is wrong and where to look (`try realmgw <command> --help`), never the
 * whole help text: the operator sees the reason at once, and scripts get a stable first line.
 */
import { parseArgs } from 'node:util';
import { RealmgwError } from '../errors/realmgw-error.js';
import { GLOBAL_OPTIONS, LOG_LEVELS, optionLabel, type Command, type CommandArgs, type OptionSpec } from './command.js';

export type CommandLine =
  | { readonly kind: 'version' }
  | { readonly kind: 'help'; readonly command?: Command }
  | { readonly kind: 'command'; readonly command: Command; readonly args: CommandArgs };

const MAIN_HINT = 'realmgw --help';
const hintFor = (command: Command) => `realmgw ${command.name} --help`;

function usage(reason: string, hint: string): never {
  throw new RealmgwError('RGW_USAGE', { reason, hint });
}

/** A usage error found by a command's handler (a value the parser cannot judge), with that command's hint. */
export function commandUsage(command: string, reason: string): never {
  usage(reason, `realmgw ${command} --help`);
}

export function parseCommandLine(argv: readonly string[], commands: readonly Command[]): CommandLine {
  // Every option of every command, so that a value-taking option swallows its value wherever it stands; each
  // option is then checked against the command that was named.
  const known = new Map<string, OptionSpec>();
  for (const o of [...GLOBAL_OPTIONS, ...commands.flatMap((c) => c.options)]) known.set(o.name, o);
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries([...known.values()].map((o) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}) }])),
  });
  const positionals = tokens.flatMap((t) => (t.kind === 'positional' ? [t.value] : []));
  const options = tokens.flatMap((t) => (t.kind === 'option' ? [t] : []));
  const has = (name: string) => options.some((t) => t.name === name);

  if (has('version')) return { kind: 'version' };
  const [name, ...operands] = positionals;
  if (name === undefined) {
    if (has('help')) return { kind: 'help' };
    usage('no command given', MAIN_HINT);
  }
  const find = (n: string) => commands.find((c) => c.name === n) ?? usage(`unknown command '${n}'`, MAIN_HINT);
  if (name === 'help') {
    if (operands.length > 1) usage(`help takes one command name, got ${operands.length}`, MAIN_HINT);
    return operands.length === 0 ? { kind: 'help' } : { kind: 'help', command: find(operands[0]) };
  }
  const command = find(name);
  if (has('help')) return { kind: 'help', command };

  const accepted = new Map([...GLOBAL_OPTIONS, ...command.options].map((o) => [o.name, o]));
  const values: { [name: string]: string | boolean | undefined } = {};
  for (const t of options) {
    const spec = accepted.get(t.name);
    if (!spec) usage(`'${command.name}' has no option ${t.rawName}`, hintFor(command));
    if (spec.type === 'boolean') {
      if (t.value !== undefined) usage(`${t.rawName} takes no value`, hintFor(command));
      values[spec.name] = true;
      continue;
    }
    // `--config --json`: the next option is not a file name (parseArgs' strict mode refuses it as well)
    if (t.value === undefined || t.value === '' || (!t.inlineValue && t.value.startsWith('-') && t.value.length > 1)) {
      usage(`${t.rawName} needs a value: ${optionLabel(spec)}`, hintFor(command));
    }
    values[spec.name] = t.value;
  }
  if (!command.operands && operands.length > 0) usage(`'${command.name}' takes no arguments, got '${operands[0]}'`, hintFor(command));
  for (const o of command.options) {
    if (o.required && values[o.name] === undefined) usage(`'${command.name}' needs ${optionLabel(o)}`, hintFor(command));
  }
  const level = values['log-level'];
  // Checked before anything is loaded: pino would only refuse it once the gateway is half built.
  if (typeof level === 'string' && !LOG_LEVELS.includes(level)) throw new RealmgwError('RGW_LOG_LEVEL', { level, levels: LOG_LEVELS.join('|') });
  return { kind: 'command', command, args: { values, operands } };
}
