/**
 * The one way realmgw changes or reads the kernel: a Runner runs the kernel tools (nft, iptables(-save,
 * -restore), ipset, ipvsadm, conntrack, sysctl) and opens the native addon's transaction channels
 * (libnftables text, set-element batches). Everything that touches the kernel takes a Runner, so the real
 * one (command.ts, CommandRunner) can be swapped for the in-memory fake of the unit tests
 * (test/support/fake-kernel/) without changing a line of the code under test.
 */
import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';

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

/**
 * An open channel that carries transactions to the kernel, one at a time: `run` sends the payloads as ONE
 * transaction (all applied or none) and calls `done` once with the kernel's verdict and what it printed.
 */
export interface KernelSession<P> {
  run(payloads: readonly P[], done: (ok: boolean, error: string) => void): void;
  close(): void;
}

export interface Runner {
  /** The network namespace it acts in (a name under /run/netns); undefined: the current one. */
  readonly netns?: string;
  /** Runs a tool and collects its output; never throws for a non-zero exit (code 127: not installed). */
  run(cmd: string, args: readonly string[], opts?: CommandOptions): Promise<CommandResult>;
  /** A libnftables session: each payload is one line of nft commands ("; "-separated, no line breaks). */
  openNft(): KernelSession<string>;
  /** A set-element batch session for the sets of `table` (family ip); payloads are encodeOps() records. */
  openElements(table: string): KernelSession<Buffer>;
}

/** Like runner.run(), but throws a CommandError unless the tool exits 0. */
export async function runChecked(runner: Runner, cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const r = await runner.run(cmd, args, opts);
  if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(' ')}`, r);
  return r;
}
