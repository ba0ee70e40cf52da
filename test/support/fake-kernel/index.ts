/**
 * An in-memory kernel behind the Runner interface (src/dataplane/runner.ts), for unit tests that must not
 * need root, namespaces or the real tools: nf_tables (nft.ts), iptables and iptables-legacy (iptables.ts),
 * ipsets (ipset.ts), IPVS (ipvs.ts), a few sysctls, conntrack's delete. Modelled on knftables' fake: it
 * applies what realmgw sends as the kernel would — transactions all or nothing where the kernel has them —
 * refuses what the kernel would refuse, refuses what it does not understand instead of guessing, records
 * every call, and dumps its state as text to compare.
 *
 * It understands only the subset realmgw emits (each module's header lists it). It is no proof that the
 * real kernel accepts a ruleset (matches and statements are not parsed): the real-kernel tests remain that.
 */
import type { CommandOptions, CommandResult, KernelSession, Runner } from '../../../src/dataplane/runner.js';
import { FakeIpset } from './ipset.js';
import { FakeIptables } from './iptables.js';
import { FakeIpvs } from './ipvs.js';
import { FakeNft } from './nft.js';
import { FakeRefusal } from './text.js';

export { FakeRefusal };

/** One call as the code under test made it; sessions appear as tool `libnftables` or `nft-elements`. */
export interface FakeCall {
  tool: string;
  args: string[];
  input?: string;
}

interface Failure {
  match: (call: FakeCall) => boolean;
  stderr: string;
  times: number;
}

export type IptablesVariant = 'iptables' | 'iptables-legacy';

export class FakeKernel implements Runner {
  readonly netns = undefined;
  readonly nft = new FakeNft();
  readonly ipset: FakeIpset;
  readonly iptables: Record<IptablesVariant, FakeIptables>;
  readonly ipvs = new FakeIpvs();
  readonly sysctl = new Map<string, string>([['net.ipv4.vs.conntrack', '0']]);
  readonly calls: FakeCall[] = [];
  /** Tools this machine does not have: run() answers 127, as for a missing binary. */
  readonly missing = new Set<string>();
  private failures: Failure[] = [];

  constructor() {
    this.ipset = new FakeIpset((set) => Object.values(this.iptables).some((t) => t.usesIpset(set)));
    const exists = (set: string) => this.ipset.sets.has(set);
    this.iptables = { iptables: new FakeIptables('iptables', exists), 'iptables-legacy': new FakeIptables('iptables-legacy', exists) };
  }

  /** The next `times` calls (default 1) that match fail with `stderr`, changing nothing. */
  failWhen(match: (call: FakeCall) => boolean, opts: { stderr?: string; times?: number } = {}): void {
    this.failures.push({ match, stderr: opts.stderr ?? 'injected failure', times: opts.times ?? 1 });
  }

  async run(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const call: FakeCall = { tool: cmd, args: [...args], ...(opts.input !== undefined ? { input: opts.input } : {}) };
    this.calls.push(call);
    if (this.missing.has(cmd)) return { code: 127, stdout: '', stderr: `${cmd}: not found\n` };
    const injected = this.injected(call);
    if (injected !== undefined) return { code: 1, stdout: '', stderr: `${injected}\n` };
    try {
      return { code: 0, stdout: this.tool(cmd, [...args], opts.input ?? ''), stderr: '' };
    } catch (err) {
      if (!(err instanceof FakeRefusal)) throw err;
      if (err instanceof NotATool) return { code: 127, stdout: '', stderr: `${cmd}: not found\n` };
      if (err instanceof ExitOne) return { code: 1, stdout: '', stderr: err.message };
      return { code: 1, stdout: '', stderr: `${err.message}\n` };
    }
  }

  openNft(): KernelSession<string> {
    return this.session('libnftables', [], (payloads) => payloads.join('; '), (payloads) => this.nft.applyCommands(payloads.flatMap((p) => p.split('; '))));
  }

  openElements(table: string): KernelSession<Buffer> {
    return this.session('nft-elements', [table], (payloads) => Buffer.concat(payloads).toString('hex'), (payloads) => this.nft.applyElements(table, Buffer.concat(payloads)));
  }

  /** Everything the fake holds, as text: equal dumps mean equal kernels. */
  dump(): string {
    const parts = [`# nft\n${this.nft.dump()}`];
    for (const [name, t] of Object.entries(this.iptables)) parts.push(`# ${name}\n${t.save()}`);
    parts.push(`# ipset\n${this.ipset.dump()}`, `# ipvs\n${this.ipvs.save()}`, `# sysctl\n${[...this.sysctl].map(([k, v]) => `${k} = ${v}\n`).join('')}`);
    return parts.join('');
  }

  private session<P>(tool: string, args: string[], describe: (p: readonly P[]) => string, apply: (p: readonly P[]) => void): KernelSession<P> {
    let open = true;
    return {
      run: (payloads, done) => {
        const call: FakeCall = { tool, args, input: describe(payloads) };
        this.calls.push(call);
        let verdict: [boolean, string] = [true, ''];
        const injected = this.injected(call);
        if (!open) verdict = [false, 'session closed'];
        else if (injected !== undefined) verdict = [false, injected];
        else {
          try {
            apply(payloads);
          } catch (err) {
            if (!(err instanceof FakeRefusal)) throw err;
            verdict = [false, err.message];
          }
        }
        setImmediate(() => done(...verdict)); // the addon answers from libuv's thread pool, never synchronously
      },
      close: () => {
        open = false;
      },
    };
  }

  private injected(call: FakeCall): string | undefined {
    const f = this.failures.find((x) => x.times > 0 && x.match(call));
    if (!f) return undefined;
    f.times--;
    return f.stderr;
  }

  private tool(cmd: string, args: string[], input: string): string {
    const variant = /^(iptables(?:-legacy)?)(-save|-restore)?$/.exec(cmd);
    if (variant) return this.iptablesTool(this.iptables[variant[1] as IptablesVariant], variant[2] ?? '', args, input);
    switch (cmd) {
      case 'nft':
        return this.nftTool(args, input);
      case 'ipset':
        if (args[0] === 'list') return this.ipset.list(args.slice(1));
        if (args.length === 1 && args[0] === 'restore') this.ipset.restore(input);
        else this.ipset.command(args);
        return '';
      case 'ipvsadm':
        return this.ipvs.command(args);
      case 'sysctl':
        return this.sysctlTool(args);
      case 'conntrack':
        // no flows in the fake: what conntrack says when there was nothing to delete
        if (args[0] === '-D') throw new ExitOne('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n');
        throw new FakeRefusal(`not understood by the fake kernel: conntrack ${args.join(' ')}`);
      default:
        throw new NotATool(cmd);
    }
  }

  private nftTool(args: string[], input: string): string {
    const line = args.join(' ');
    if (line === '-f -') this.nft.apply(input);
    else if (line === '-c -f -') this.nft.check(input);
    else if (line === 'list tables' || line === 'list tables ip') return this.nft.tableNames().map((n) => `table ip ${n}\n`).join('');
    else if (line === 'list ruleset') return this.nft.dump();
    else if (/^list table ip \w+$/.test(line)) return this.nft.listTable(args[3]!);
    else if (/^-j list table ip \w+$/.test(line)) return this.nft.listTableJson(args[4]!);
    else if (/^-t -j list table ip \w+$/.test(line)) return this.nft.listTableJson(args[5]!, true);
    else if (/^-j list (set|map) ip \w+ \w+$/.test(line)) return this.nft.listSetJson(args[2] as 'set' | 'map', args[4]!, args[5]!);
    else if (/^-j list counters table ip \w+$/.test(line)) return this.nft.listCountersJson(args[5]!);
    else throw new FakeRefusal(`Error: not understood by the fake kernel: nft ${line}`);
    return '';
  }

  private iptablesTool(t: FakeIptables, kind: string, args: string[], input: string): string {
    const rest = args.filter((a) => a !== '-w');
    if (kind === '-save') {
      if (rest.length === 0) return t.save();
      if (rest.length === 2 && rest[0] === '-t') return t.save(rest[1]);
    } else if (kind === '-restore') {
      if (rest.length === 1 && rest[0] === '--noflush') {
        t.restore(input);
        return '';
      }
    } else {
      let table = 'filter';
      if (rest[0] === '-t') [, table] = rest.splice(0, 2) as [string, string];
      const [op, chain, ...spec] = rest;
      if (op === '-C' && chain) {
        if (!t.has(table, chain, spec.join(' '))) throw new ExitOne('iptables: Bad rule (does a matching rule exist in that chain?).\n');
        return '';
      }
      if (op && ['-A', '-I', '-D', '-N', '-X', '-F'].includes(op) && chain) {
        t.restore(`*${table}\n${rest.join(' ')}\nCOMMIT\n`);
        return '';
      }
    }
    throw new FakeRefusal(`not understood by the fake kernel: ${t.name}${kind} ${args.join(' ')}`);
  }

  private sysctlTool(args: string[]): string {
    const rest = args.filter((a) => a !== '-q');
    if (rest.length === 2 && rest[0] === '-n') return `${this.sysctl.get(rest[1]!) ?? fail(rest[1]!)}\n`;
    if (rest.length === 2 && rest[0] === '-w') {
      const [key, value] = rest[1]!.split('=');
      if (!this.sysctl.has(key!) || value === undefined) fail(key!);
      this.sysctl.set(key!, value!);
      return '';
    }
    throw new FakeRefusal(`not understood by the fake kernel: sysctl ${args.join(' ')}`);
  }
}

class NotATool extends FakeRefusal {}
/** Exit 1 with exactly this stderr. */
class ExitOne extends FakeRefusal {}

const fail = (key: string): never => {
  throw new FakeRefusal(`sysctl: cannot stat /proc/sys/${key.replace(/\./g, '/')}: No such file or directory`);
};
