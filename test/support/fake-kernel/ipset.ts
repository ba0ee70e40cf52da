/**
 * ipsets of the fake kernel: hash:ip and hash:net sets of IPv4 members.
 *
 * `ipset restore` is NOT a transaction in the kernel: it sends line after line and stops at the first one
 * refused, leaving the earlier lines applied. The fake does the same, so code that relies on a restore being
 * all or nothing fails here as it would on a real machine. Refused like the kernel: creating an existing set
 * without -exist, or with -exist but another type; adding a member that is there without -exist; deleting
 * one that is not; destroying a missing set or one an iptables rule refers to; a member that is not an
 * address (or a block, for hash:net). Other types, options and commands are refused as not understood.
 */
import { FakeRefusal, isIpv4, isIpv4OrCidr } from './text.js';

interface FakeSet {
  type: string;
  members: Set<string>;
}

const TYPES = new Set(['hash:ip', 'hash:net']);

export class FakeIpset {
  sets = new Map<string, FakeSet>();

  constructor(private readonly inUse: (set: string) => boolean) {}

  /** `ipset restore` */
  restore(input: string): void {
    input.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      try {
        this.command(line.split(/\s+/));
      } catch (err) {
        if (err instanceof FakeRefusal) throw new FakeRefusal(`ipset v7.17: Error in line ${i + 1}: ${err.message}`);
        throw err;
      }
    });
  }

  /** One command (`ipset create ...`, `ipset destroy NAME`, ...), words after `ipset`. */
  command(words: string[]): void {
    const exist = words.includes('-exist');
    const [op, name, ...rest] = words.filter((w) => w !== '-exist');
    if (name === undefined) throw new FakeRefusal(`not understood by the fake kernel: ${words.join(' ')}`);
    const set = this.sets.get(name);
    const need = (): FakeSet => set ?? fail('The set with the given name does not exist');
    switch (op) {
      case 'create': {
        const [type, ...options] = rest;
        if (!type || !TYPES.has(type) || options.length) fail(`not understood by the fake kernel: create ${name} ${rest.join(' ')}`);
        if (set && (!exist || set.type !== type)) fail('Set cannot be created: set with the same name already exists');
        if (!set) this.sets.set(name, { type: type!, members: new Set() });
        return;
      }
      case 'flush':
        need().members.clear();
        return;
      case 'add':
      case 'del': {
        const s = need();
        const member = normalise(s.type, rest);
        if (op === 'add' && s.members.has(member) && !exist) fail("Element cannot be added to the set: it's already added");
        if (op === 'del' && !s.members.has(member) && !exist) fail("Element cannot be deleted from the set: it's not added");
        if (op === 'add') s.members.add(member);
        else s.members.delete(member);
        return;
      }
      case 'destroy':
        need();
        if (this.inUse(name)) fail('Set cannot be destroyed: it is in use by a kernel component');
        this.sets.delete(name);
        return;
      default:
        fail(`not understood by the fake kernel: ${words.join(' ')}`);
    }
  }

  /** `ipset list -t`, `ipset list -n`, `ipset list NAME` */
  list(args: readonly string[]): string {
    const names = [...this.sets.keys()];
    if (args.length === 1 && args[0] === '-n') return names.map((n) => `${n}\n`).join('');
    const terse = args.length === 1 && args[0] === '-t';
    if (!terse && args.length !== 1) fail(`not understood by the fake kernel: list ${args.join(' ')}`);
    const which = terse ? names : [args[0]!];
    return which
      .map((n) => {
        const s = this.sets.get(n) ?? fail('The set with the given name does not exist');
        const head = `Name: ${n}\nType: ${s.type}\nRevision: 0\nHeader: family inet hashsize 1024 maxelem 65536\nReferences: ${this.inUse(n) ? 1 : 0}\nNumber of entries: ${s.members.size}\n`;
        return terse ? head : `${head}Members:\n${[...s.members].sort().map((m) => `${m}\n`).join('')}`;
      })
      .join('\n');
  }

  dump(): string {
    return [...this.sets].map(([n, s]) => `${n} ${s.type}: ${[...s.members].sort().join(' ')}\n`).join('');
  }
}

const fail = (why: string): never => {
  throw new FakeRefusal(why);
};

/** The kernel stores a hash:net /32 as the bare address. */
function normalise(type: string, rest: string[]): string {
  const [member, more] = rest;
  if (member === undefined || more !== undefined) fail(`not understood by the fake kernel: ${rest.join(' ')}`);
  if (type === 'hash:ip' ? !isIpv4(member!) : !isIpv4OrCidr(member!)) fail(`Syntax error: '${member}' is not a valid ${type} member`);
  return member!.endsWith('/32') ? member!.slice(0, -3) : member!;
}
