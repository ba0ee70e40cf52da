/**
 * The shape of a `realmgw` command: one entry of the command table (commands.ts) carries everything the
 * parser, the help texts and the dispatcher need, so a new command is one module and one line in the table.
 */

/** An option of a command. Booleans are flags; strings take a value (`--config FILE` or `--config=FILE`). */
export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** Placeholder shown in help for a string option (FILE, NAME). */
  readonly value?: string;
  readonly description: string;
  /** The command refuses to run without it (a usage error naming the option). */
  readonly required?: boolean;
}

/** What a handler gets: the option values by name, after the parser has checked them against the spec. */
export interface CommandArgs {
  readonly values: { readonly [name: string]: string | boolean | undefined };
  /** Positionals after the command name (only for commands that declare `operands`). */
  readonly operands: readonly string[];
}

export interface Command {
  readonly name: string;
  /** One line for the command list of `realmgw --help`. */
  readonly summary: string;
  /** What `realmgw <name> --help` says under the usage line: what the command does, in a few lines. */
  readonly description?: string;
  readonly options: readonly OptionSpec[];
  /** Positional operands it accepts, for the usage line (e.g. '[COMMAND]'); absent: none. */
  readonly operands?: string;
  /** Example invocations (each a full command line, `realmgw ...`). */
  readonly examples: readonly string[];
  run(args: CommandArgs): Promise<number>;
}

/** Options every command accepts; the logging ones only matter to commands that log (run, worker). */
/** --log-level and --pretty: listed in the help of the commands that log (run, worker). */
export const LOG_OPTIONS: readonly OptionSpec[] = [
  { name: 'log-level', type: 'string', value: 'L', description: 'fatal|error|warn|info|debug|trace (overrides the config)' },
  { name: 'pretty', type: 'boolean', description: 'human-readable logs even when stdout is not a terminal' },
];

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'help', short: 'h', type: 'boolean', description: "print the command's help (options and an example) and exit" },
  { name: 'version', type: 'boolean', description: 'print the version of realmgw and of Node.js and exit' },
  ...LOG_OPTIONS,
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** --config FILE, required: the gateway configuration most commands start from. */
export const CONFIG: OptionSpec = { name: 'config', short: 'c', type: 'string', value: 'FILE', description: 'gateway configuration (YAML)', required: true };

export const JSON_OUTPUT: OptionSpec = { name: 'json', type: 'boolean', description: 'print the JSON itself (for programs) instead of a table' };

/** `--config FILE`, `--json`: how help texts and usage errors name an option. */
export function optionLabel(o: OptionSpec): string {
  return `--${o.name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
}

/** Where handlers print their result by default (tests hand them a collector instead). */
export const stdout = (text: string): void => void process.stdout.write(text);
