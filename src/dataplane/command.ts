/**
 * Running the kernel tools (nft, iptables-restore, ipset) as child processes. The only place in the data
 * plane that spawns them; everything else renders text. `netns` runs the tool inside a named network
 * namespace (`ip netns exec NS ...`), which is how tests and `realmgw` driving another namespace work:
 * node itself cannot enter one.
 */
import { spawn } from 'node:child_process';

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
  readonly code = 'RGW_COMMAND_FAILED';
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    super(`${command}: exit ${result.code}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`);
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
  run(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const [file, argv] = this.argv(cmd, args);
    return new Promise((resolve) => {
      const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let spawnError: Error | undefined;
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.stdin.on('error', () => undefined); // EPIPE when the tool exits without reading
      child.stdin.end(opts.input ?? undefined);
      child.on('error', (e) => (spawnError = e));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString('utf8');
        // `ip netns exec` reports a missing tool itself and exits 255
        const missing = (spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || (code !== 0 && /^exec of ".*" failed: No such file/m.test(stderr));
        resolve({
          code: missing ? 127 : (code ?? (signal ? 128 : 1)),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: stderr + (spawnError ? `${file}: ${spawnError.message}\n` : '') + (signal ? `killed by ${signal}\n` : ''),
        });
      });
    });
  }

  /** Like run(), but throws a CommandError unless the command exits 0. */
  async check(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const r = await this.run(cmd, args, opts);
    if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(' ')}`, r);
    return r;
  }
}
