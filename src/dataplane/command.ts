/**
 * The real Runner (runner.ts): the kernel tools (nft, iptables-restore, ipset, ipvsadm, conntrack, sysctl) as
 * child processes and the native addon's channels (libnftables, set-element batches). The only place that
 * spawns them or opens the addon's kernel sessions. `netns` acts inside a named network namespace: tools run
 * under `ip netns exec NS ...`, the addon enters /run/netns/NS itself (node cannot enter one).
 */
import { execa } from 'execa';
import { loadNativeAddon } from './addon.js';
import { CommandError, type CommandOptions, type CommandResult, type KernelSession, type Runner } from './runner.js';

export { CommandError, type CommandOptions, type CommandResult };

type NftHandle = { readonly __nftHandle: unique symbol };
type ElemsHandle = { readonly __elemsHandle: unique symbol };

/** The addon's libnftables functions (kernel/nfqueue/src/nft.c). */
export interface NftBinding {
  nftOpen(netnsPath?: string): NftHandle;
  nftRun(h: NftHandle, commands: string, done: (ok: boolean, error: string, output: string) => void): void;
  nftClose(h: NftHandle): void;
}

/** The addon's set-element batches (kernel/nfqueue/src/nft_elems.c). */
export interface ElemsBinding {
  elemsOpen(netnsPath?: string): ElemsHandle;
  elemsRun(h: ElemsHandle, table: string, ops: Buffer, done: (ok: boolean, errno: number, message: string) => void): void;
  elemsClose(h: ElemsHandle): void;
}

export interface CommandRunnerBindings {
  /** Tests: libnftables functions other than the addon's. */
  nft?: NftBinding;
  /** Tests: set-element functions other than the addon's. */
  elems?: ElemsBinding;
}

export class CommandRunner implements Runner {
  constructor(
    readonly netns?: string,
    private readonly bindings: CommandRunnerBindings = {},
  ) {}

  /** argv with the namespace prefix, if any. */
  argv(cmd: string, args: readonly string[]): [string, string[]] {
    return this.netns ? ['ip', ['netns', 'exec', this.netns, cmd, ...args]] : [cmd, [...args]];
  }

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

  openNft(): KernelSession<string> {
    const binding = this.bindings.nft ?? loadNativeAddon<NftBinding>();
    const h = binding.nftOpen(this.netnsPath());
    return {
      run: (payloads, done) => binding.nftRun(h, payloads.join('; '), (ok, error) => done(ok, error)),
      close: () => binding.nftClose(h),
    };
  }

  openElements(table: string): KernelSession<Buffer> {
    const binding = this.bindings.elems ?? loadNativeAddon<ElemsBinding>();
    const h = binding.elemsOpen(this.netnsPath());
    return {
      run: (payloads, done) => binding.elemsRun(h, table, Buffer.concat(payloads), (ok, _errno, message) => done(ok, message)),
      close: () => binding.elemsClose(h),
    };
  }

  private netnsPath(): string | undefined {
    return this.netns === undefined ? undefined : `/run/netns/${this.netns}`;
  }
}
