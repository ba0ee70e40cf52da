/**
 * Running the kernel tools (nft, iptables-restore, ipset) as child processes. The only place in the data
 * plane that spawns them; everything else renders text. `netns` runs the tool inside a named network
 * namespace (`ip netns exec NS ...`), which is how tests and `realmgw` driving another namespace work:
 * node itself cannot enter one.
 */
import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';
import { execa } from 'execa';
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
}

/** A tool failed (non-zero exit, killed, or missing); carries what it printed. */
export class CommandError extends Error {
  readonly code = 'RGW_COMMAND_FAILED' satisfies ErrorCode;
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    super(errorMessage('RGW_COMMAND_FAILED', { command, status: String(result.code), stderr: result.stderr.trim() ? `: ${result.stderr.trim()}` : '' }));
    this.name = 'CommandError';
  }
}

export class CommandRunner {
  constructor(readonly netns?: string) {}

  /** argv with the namespace prefix, if any. */
  argv(cmd: string, args: readonly string[]): [string, string[]] {
    return this.netns ? ['ip', ['netns', 'exec', this.netns, cmd, ...args]] : [cmd, [...args]];
  }

  /** Runs a command and collects its output; never throws for a non-zero exit (code 127: not found). */
  async run(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const [file, argv] = this.argv(cmd, args);
    const r = await execa(file, argv, {
      input: opts.input ?? '',
      reject: false,
      stripFinalNewline: false,
      timeout: opts.timeoutMs ?? 30_000,
      killSignal: 'SIGKILL',
      env: { LC_ALL: 'C' }, // tool messages are parsed and shown to operators: keep them in one language
    });
    // `ip netns exec` reports a missing tool itself and exits 255
    const missing = (r.code === 'ENOENT') || (r.exitCode !== 0 && /^exec of ".*" failed: No such file/m.test(r.stderr));
    const exit = missing ? 127 : (r.exitCode ?? (r.signal ? 128 : 1));
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 30_000} ms\n` : r.signal ? `killed by ${r.signal}\n` : r.failed && r.exitCode === undefined ? `${file}: ${r.shortMessage}\n` : '';
    return { code: exit, stdout: r.stdout, stderr: r.stderr + why };
  }

  /** Like run(), but throws a CommandError unless the command exits 0. */
  async check(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const r = await this.run(cmd, args, opts);
    if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(' ')}`, r);
    return r;
  }
}
