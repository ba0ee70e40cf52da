/**
 * One iptables of the fake kernel (the fake keeps `iptables` and `iptables-legacy` apart, as the kernel
 * does): tables filter, mangle, nat and raw with their builtin chains, changed by `iptables-restore --noflush`
 * and single `iptables` commands, read by `iptables-save` and `iptables -C`.
 *
 * Each `*table ... COMMIT` block is one transaction, applied to a copy and kept only when every line passed;
 * like the kernel's iptables-restore, blocks before a failing one stay committed. Lines are checked in order,
 * as iptables-restore does: a jump or goto needs its chain already there (or a target the fake knows), a
 * `-m set --match-set` needs the ipset, -D needs the exact rule, -X needs an empty, unreferenced chain of the
 * user's. Rules are kept as written (blanks squashed): the fake does not reorder matches the way
 * iptables-save prints them, so realmgw must write jumps in iptables-save's spelling (it does, to compare them).
 * Without --noflush the restore is refused: realmgw never replaces whole tables.
 */
import { FakeRefusal, squash } from './text.js';

interface Chain {
  /** builtin chains have a policy */
  policy?: string;
  rules: string[];
}

type Table = Map<string, Chain>;

const BUILTINS: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};

/** Targets that are extensions, not chains (those realmgw and its tests use, and the common ones). */
const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'QUEUE', 'NFQUEUE', 'MARK', 'CONNMARK', 'SNAT', 'DNAT', 'MASQUERADE', 'REJECT', 'LOG', 'CT', 'NOTRACK']);

export class FakeIptables {
  tables = new Map<string, Table>(Object.entries(BUILTINS).map(([t, chains]) => [t, new Map(chains.map((c) => [c, { policy: 'ACCEPT', rules: [] }]))]));

  constructor(
    readonly name: string,
    private readonly ipsetExists: (set: string) => boolean,
  ) {}

  /** `iptables-restore --noflush`; throws FakeRefusal naming the failed line. */
  restore(input: string): void {
    let table: string | undefined;
    let work: Table | undefined;
    input.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const fail = (why: string): never => {
        throw new FakeRefusal(`${this.name}-restore: line ${i + 1} failed: ${why}`);
      };
      if (line.startsWith('*')) {
        if (work) fail('table block not closed by COMMIT');
        table = line.slice(1);
        work = structuredClone(this.tables.get(table) ?? fail(`can't initialize ${this.name} table '${table}': Table does not exist`));
      } else if (line === 'COMMIT') {
        if (!work) fail('COMMIT outside a table block');
        this.tables.set(table!, work!);
        work = undefined;
      } else if (!work) {
        fail(`no table given: ${line}`);
      } else {
        try {
          this.line(work, line);
        } catch (err) {
          if (err instanceof FakeRefusal) fail(err.message);
          throw err;
        }
      }
    });
    if (work) throw new FakeRefusal(`${this.name}-restore: COMMIT expected at the end`);
  }

  /** `iptables -C`: whether the exact rule is in the chain. */
  has(table: string, chain: string, spec: string): boolean {
    return this.tables.get(table)?.get(chain)?.rules.includes(squash(spec)) ?? false;
  }

  /** `iptables-save [-t table]` */
  save(only?: string): string {
    const out: string[] = [];
    for (const [name, t] of this.tables) {
      if (only !== undefined && name !== only) continue;
      out.push(`*${name}`);
      const chains = [...t].sort(([a, x], [b, y]) => Number(!x.policy) - Number(!y.policy) || (x.policy ? 0 : a.localeCompare(b)));
      for (const [c, chain] of chains) out.push(`:${c} ${chain.policy ?? '-'} [0:0]`);
      for (const [c, chain] of chains) for (const r of chain.rules) out.push(`-A ${c} ${r}`);
      out.push('COMMIT');
    }
    return out.join('\n') + '\n';
  }

  /** Whether any rule refers to the ipset (the kernel then refuses to destroy it). */
  usesIpset(set: string): boolean {
    for (const t of this.tables.values()) for (const c of t.values()) if (c.rules.some((r) => setsOf(r).includes(set))) return true;
    return false;
  }

  private line(t: Table, line: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?$/.exec(line))) {
      const [, name, policy] = m;
      const chain = t.get(name!);
      if (policy === '-') {
        if (chain?.policy) throw new FakeRefusal(`${name} is a builtin chain`);
        if (chain) chain.rules = [];
        else t.set(name!, { rules: [] });
      } else {
        if (!chain?.policy || !['ACCEPT', 'DROP'].includes(policy!)) throw new FakeRefusal(`bad policy ${policy} for ${name}`);
        chain.policy = policy;
      }
      return;
    }
    const [op, name, ...rest] = line.split(/\s+/);
    const chain = name === undefined ? undefined : t.get(name);
    const need = (): Chain => chain ?? throwRefusal(`No chain/target/match by that name (${name})`);
    const spec = squash(rest.join(' '));
    switch (op) {
      case '-N':
        if (chain) throw new FakeRefusal('Chain already exists');
        t.set(name!, { rules: [] });
        return;
      case '-A':
        this.checkRule(t, spec);
        need().rules.push(spec);
        return;
      case '-I': {
        const at = /^\d+$/.test(rest[0] ?? '') ? Number(rest.shift()) : 1;
        const s = squash(rest.join(' '));
        const c = need();
        if (at < 1 || at > c.rules.length + 1) throw new FakeRefusal('Index of insertion too big');
        this.checkRule(t, s);
        c.rules.splice(at - 1, 0, s);
        return;
      }
      case '-D': {
        const c = need();
        const i = c.rules.indexOf(spec);
        if (i < 0) throw new FakeRefusal('Bad rule (does a matching rule exist in that chain?)');
        c.rules.splice(i, 1);
        return;
      }
      case '-F':
        need().rules = [];
        return;
      case '-X': {
        const c = need();
        if (c.policy) throw new FakeRefusal(`${name} is a builtin chain`);
        if (c.rules.length) throw new FakeRefusal('Directory not empty');
        for (const other of t.values()) if (other.rules.some((r) => jumpOf(r) === name)) throw new FakeRefusal('Too many links');
        t.delete(name!);
        return;
      }
      default:
        throw new FakeRefusal(`not understood by the fake kernel: ${line}`);
    }
  }

  private checkRule(t: Table, spec: string): void {
    const target = jumpOf(spec);
    if (target !== undefined && !t.has(target) && (/(?:^|\s)-g\s/.test(spec) || !TARGETS.has(target))) throw new FakeRefusal(`Couldn't load target \`${target}'`);
    for (const set of setsOf(spec)) if (!this.ipsetExists(set)) throw new FakeRefusal(`Set ${set} doesn't exist.`);
  }
}

const throwRefusal = (why: string): never => {
  throw new FakeRefusal(why);
};

function jumpOf(spec: string): string | undefined {
  return /(?:^|\s)-[jg]\s+(\S+)/.exec(spec)?.[1];
}

function setsOf(spec: string): string[] {
  return [...spec.matchAll(/--match-set\s+(\S+)/g)].map((m) => m[1]!);
}
