/**
 * nf_tables of the fake kernel (family ip only): tables with sets, maps, named counters and chains, changed
 * by `nft -f` scripts, libnftables command lines and set-element batches, each ONE transaction (applied to a
 * copy that replaces the state only when the whole transaction passed, like the kernel's commit).
 *
 * Understood: `[add] table ip T [{ ... }]`, `delete table ip T`, `add|delete element ip T S { ... }`,
 * `flush chain|set|map ip T N`, `delete chain|set|map|counter ip T N` (a chain only when empty and unreferenced); inside a
 * table block `set|map|counter|chain NAME { ... }` with the set properties realmgw writes (type, flags, size,
 * gc-interval, timeout, counter, elements). Rules are kept as text; what the kernel would refuse in them is
 * checked when the transaction commits: a jump or goto to a missing chain, `@name` of a missing set or map,
 * `counter name` of a missing counter, a malformed IPv4 address or prefix. Anything else is refused as not
 * understood. Element timeouts are recorded but never expire; counters stay at zero.
 */
import { FakeRefusal, isIpv4OrCidr, splitBlock, splitTop, squash, stripComments } from './text.js';

interface FakeSet {
  kind: 'set' | 'map';
  /** Its definition (type, flags, ...) without the elements: a second declaration must repeat it exactly. */
  def: string[];
  keyFields: number;
  interval: boolean;
  counted: boolean;
  /** element key -> mapped value ('' for a set) */
  elements: Map<string, string>;
}

interface FakeChain {
  /** `type ... hook ... priority ...` of a base chain */
  hook?: string;
  policy?: string;
  rules: string[];
}

interface FakeTable {
  sets: Map<string, FakeSet>;
  counters: Set<string>;
  chains: Map<string, FakeChain>;
}

const ENOENT = 'No such file or directory';

const refuse = (why: string, statement: string): never => {
  throw new FakeRefusal(`Error: Could not process rule: ${why}\n${squash(statement)}`);
};

export class FakeNft {
  tables = new Map<string, FakeTable>();

  /** `nft -f`: one transaction; throws FakeRefusal (nothing changed) when any part is refused. */
  apply(script: string): void {
    this.tables = this.transaction(script);
  }

  /** `nft -c -f`: the same checks, nothing kept. */
  check(script: string): void {
    this.transaction(script);
  }

  /** A libnftables transaction: command lines joined by "; " (a merged one joins several). */
  applyCommands(lines: readonly string[]): void {
    this.apply(lines.join('\n'));
  }

  /** One set-element batch (nft-elements.ts records), all or nothing. */
  applyElements(table: string, batch: Buffer): void {
    const next = structuredClone(this.tables);
    const t = next.get(table) ?? refuse(ENOENT, `table ip ${table}`);
    for (const op of decodeOps(batch)) {
      const set = t.sets.get(op.set) ?? refuse(ENOENT, `${op.kind} element ip ${table} ${op.set}`);
      const key = `0x${op.key.toString('hex')}${op.keyEnd ? `-0x${op.keyEnd.toString('hex')}` : ''}`;
      const where = `${op.kind} element ip ${table} ${op.set} { ${key} }`;
      if (op.kind === 'delete') {
        if (!set.elements.delete(key)) refuse(ENOENT, where);
        continue;
      }
      if ((set.kind === 'map') !== (op.data !== undefined)) refuse('Invalid argument', where);
      const value = op.data ? `0x${op.data.toString('hex')}` : '';
      if (set.elements.has(key) && set.elements.get(key) !== value) refuse('File exists', where);
      set.elements.set(key, value);
    }
    this.tables = next;
  }

  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** `nft list table ip T` */
  listTable(name: string): string {
    const t = this.tables.get(name) ?? refuse(ENOENT, `list table ip ${name}`);
    const out = [`table ip ${name} {`];
    for (const [n, s] of t.sets) {
      out.push(`\t${s.kind} ${n} {`, ...s.def.map((d) => `\t\t${d}`));
      if (s.elements.size) out.push(`\t\telements = { ${[...s.elements].map(([k, v]) => (v ? `${k} : ${v}` : k)).sort().join(', ')} }`);
      out.push('\t}');
    }
    for (const n of t.counters) out.push(`\tcounter ${n} {`, '\t\tpackets 0 bytes 0', '\t}');
    for (const [n, c] of t.chains) {
      out.push(`\tchain ${n} {`);
      if (c.hook) out.push(`\t\t${c.hook}; policy ${c.policy ?? 'accept'};`);
      out.push(...c.rules.map((r) => `\t\t${r}`), '\t}');
    }
    out.push('}');
    return out.join('\n') + '\n';
  }

  /**
   * `nft -j list table ip T` (sets and maps with their elements; counters read zero); `terse` (`nft -t`):
   * without elements. Sets carry their flags; chains and rules are listed too, a rule's `expr` being its
   * text (real nft gives an expression tree: code that compares listings must treat it as opaque).
   */
  listTableJson(name: string, terse = false): string {
    const t = this.tables.get(name) ?? refuse(ENOENT, `list table ip ${name}`);
    const items: unknown[] = [{ metainfo: { json_schema_version: 1 } }, { table: { family: 'ip', name } }];
    for (const [n, s] of t.sets) items.push(setJson(name, n, s, terse));
    for (const n of t.counters) items.push({ counter: { family: 'ip', name: n, table: name, packets: 0, bytes: 0 } });
    for (const [n, c] of t.chains) items.push({ chain: { family: 'ip', table: name, name: n, ...(c.hook ? { hook: c.hook, policy: c.policy } : {}) } });
    for (const [n, c] of t.chains) for (const r of c.rules) items.push({ rule: { family: 'ip', table: name, chain: n, expr: r } });
    return JSON.stringify({ nftables: items });
  }

  /** `nft -j list set|map ip T S` */
  listSetJson(kind: 'set' | 'map', table: string, name: string): string {
    const s = this.tables.get(table)?.sets.get(name);
    if (!s || s.kind !== kind) return refuse(ENOENT, `list ${kind} ip ${table} ${name}`);
    return JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, setJson(table, name, s, false)] });
  }

  /** `nft -j list counters table ip T` */
  listCountersJson(name: string): string {
    const t = this.tables.get(name) ?? refuse(ENOENT, `list counters table ip ${name}`);
    return JSON.stringify({ nftables: [...t.counters].map((n) => ({ counter: { family: 'ip', name: n, table: name, packets: 0, bytes: 0 } })) });
  }

  dump(): string {
    return [...this.tables.keys()].sort().map((n) => this.listTable(n)).join('');
  }

  private transaction(script: string): Map<string, FakeTable> {
    const next = structuredClone(this.tables);
    for (const statement of splitTop(stripComments(script), '\n;')) this.statement(next, statement);
    for (const [name, t] of next) checkReferences(name, t);
    return next;
  }

  private statement(tables: Map<string, FakeTable>, statement: string): void {
    const [head, block] = splitBlock(statement);
    const w = head.split(/\s+/);
    if (w[0] === 'add' && w[1] === 'table') w.shift();
    if ((w[0] === 'table' || (w[0] === 'delete' && w[1] === 'table')) && w[w.length - 2] !== 'ip') refuse('the fake knows only family ip', statement);
    if (w[0] === 'table' && w.length === 3) {
      const t = tables.get(w[2]!) ?? { sets: new Map(), counters: new Set<string>(), chains: new Map() };
      tables.set(w[2]!, t);
      if (block !== undefined) for (const s of splitTop(block, '\n;')) tableStatement(t, s);
      return;
    }
    if (w[0] === 'delete' && w[1] === 'table' && w.length === 4 && block === undefined) {
      if (!tables.delete(w[3]!)) refuse(ENOENT, statement);
      return;
    }
    if ((w[0] === 'add' || w[0] === 'delete') && w[1] === 'element' && w[2] === 'ip' && w.length === 5 && block !== undefined) {
      const set = tables.get(w[3]!)?.sets.get(w[4]!) ?? refuse(ENOENT, statement);
      for (const e of splitTop(block, ',')) {
        if (w[0] === 'add') addElement(set, e, statement);
        else if (!set.elements.delete(elementKey(e))) refuse(ENOENT, statement);
      }
      return;
    }
    // a reload's in-place update (kernel-update.ts): flush a chain or a set's elements, delete one object
    if ((w[0] === 'flush' || w[0] === 'delete') && ['chain', 'set', 'map', 'counter'].includes(w[1]!) && w[2] === 'ip' && w.length === 5 && block === undefined) {
      const t = tables.get(w[3]!) ?? refuse(ENOENT, statement);
      const name = w[4]!;
      if (w[1] === 'chain') {
        const chain = t.chains.get(name) ?? refuse(ENOENT, statement);
        if (w[0] === 'flush') chain.rules = [];
        else if (chain.rules.length || [...t.chains.values()].some((c) => c.rules.some((r) => new RegExp(`\\b(?:jump|goto) ${name}\\b`).test(r)))) refuse('Device or resource busy', statement);
        else t.chains.delete(name);
        return;
      }
      if (w[1] === 'counter') {
        if (w[0] === 'flush' || !t.counters.delete(name)) refuse(ENOENT, statement);
        return;
      }
      const set = t.sets.get(name);
      if (!set || set.kind !== w[1]) return refuse(ENOENT, statement);
      if (w[0] === 'flush') set.elements.clear();
      else t.sets.delete(name);
      return;
    }
    refuse('not understood by the fake kernel', statement);
  }
}

function tableStatement(t: FakeTable, statement: string): void {
  const [head, block] = splitBlock(statement);
  const [kind, name, more] = head.split(/\s+/);
  if (!name || more !== undefined || block === undefined) return refuse('not understood by the fake kernel', statement);
  if (kind === 'counter') {
    if (block.trim()) refuse('not understood by the fake kernel', statement);
    t.counters.add(name);
  } else if (kind === 'set' || kind === 'map') {
    declareSet(t, kind, name, block, statement);
  } else if (kind === 'chain') {
    declareChain(t, name, block, statement);
  } else {
    refuse('not understood by the fake kernel', statement);
  }
}

const SET_PROPERTIES = /^(type|flags|size|gc-interval|timeout|counter|policy)\b/;

function declareSet(t: FakeTable, kind: 'set' | 'map', name: string, block: string, statement: string): void {
  const def: string[] = [];
  const elements: string[] = [];
  for (const s of splitTop(block, '\n;')) {
    const m = /^elements\s*=\s*\{(.*)\}$/s.exec(s);
    if (m) elements.push(...splitTop(m[1]!, ','));
    else if (SET_PROPERTIES.test(s)) def.push(squash(s));
    else refuse('not understood by the fake kernel', s);
  }
  const type = def.find((d) => d.startsWith('type '));
  if (!type) refuse('Invalid argument (no type)', statement);
  if ((kind === 'map') !== type!.includes(' : ')) refuse('Invalid argument (a map has a key and a value type)', statement);
  const flags = def.find((d) => d.startsWith('flags '))?.slice(6).split(',') ?? [];
  let set = t.sets.get(name);
  if (set && (set.kind !== kind || set.def.join('\n') !== def.join('\n'))) refuse('File exists', statement);
  set ??= {
    kind,
    def,
    keyFields: type!.slice(5).split(' : ')[0]!.split(' . ').length,
    interval: flags.includes('interval'),
    counted: def.includes('counter'),
    elements: new Map(),
  };
  t.sets.set(name, set);
  for (const e of elements) addElement(set, e, statement);
}

function declareChain(t: FakeTable, name: string, block: string, statement: string): void {
  let hook: string | undefined;
  let policy: string | undefined;
  const rules: string[] = [];
  for (const s of splitTop(block, '\n;')) {
    if (/^type \S+ hook \S+ priority /.test(s)) hook = squash(s);
    else if (/^policy (accept|drop)$/.test(s)) policy = s.split(' ')[1];
    else rules.push(squash(s));
  }
  const chain = t.chains.get(name);
  if (chain && (chain.hook !== hook || (policy !== undefined && chain.policy !== policy))) refuse('Device or resource busy', statement);
  if (chain) chain.rules.push(...rules);
  else t.chains.set(name, { hook, policy: hook ? (policy ?? 'accept') : undefined, rules });
}

function elementKey(e: string): string {
  return squash(e.split(' : ')[0]!);
}

function addElement(set: FakeSet, e: string, statement: string): void {
  const [key, value, more] = squash(e).split(' : ');
  if (more !== undefined || (set.kind === 'map') !== (value !== undefined)) refuse('Invalid argument', statement);
  const fields = key!.split(' . ');
  if (fields.length !== set.keyFields) refuse(`Invalid argument (element ${key} does not have ${set.keyFields} fields)`, statement);
  if (!set.interval && fields.some((f) => f.includes('-') && /^\d/.test(f))) refuse('Invalid argument (a range in a set without flags interval)', statement);
  const v = value ?? '';
  if (set.elements.has(key!) && set.elements.get(key!) !== v) refuse('File exists', statement);
  set.elements.set(key!, v);
}

function checkReferences(table: string, t: FakeTable): void {
  for (const [name, chain] of t.chains) {
    for (const rule of chain.rules) {
      const where = `add rule ip ${table} ${name} ${rule}`;
      for (const m of rule.matchAll(/\b(?:jump|goto) ([A-Za-z_][\w-]*)/g)) if (!t.chains.has(m[1]!)) refuse(ENOENT, where);
      for (const m of rule.matchAll(/@([A-Za-z_]\w*)/g)) if (!t.sets.has(m[1]!)) refuse(ENOENT, where);
      for (const m of rule.matchAll(/\bcounter name ([A-Za-z_]\w*)/g)) if (!t.counters.has(m[1]!)) refuse(ENOENT, where);
      for (const m of rule.matchAll(/(?<![\w.:])\d+\.\d+\.\d+\.\d+(?:\/\d+)?(?![\w.])/g)) if (!isIpv4OrCidr(m[0])) refuse(`Invalid argument (${m[0]})`, where);
    }
  }
}

function setJson(table: string, name: string, s: FakeSet, terse: boolean): unknown {
  const elem = terse
    ? []
    : [...s.elements].map(([k, v]) => {
        if (s.kind === 'map') return [jsonValue(k), jsonValue(v)];
        return s.counted ? { elem: { val: jsonValue(k), counter: { packets: 0, bytes: 0 } } } : jsonValue(k);
      });
  const flags = s.def.find((d) => d.startsWith('flags '))?.slice(6).split(',');
  return { [s.kind]: { family: 'ip', name, table, def: s.def, ...(flags ? { flags } : {}), ...(elem.length ? { elem } : {}) } };
}

/** `tcp . 40001` -> {"concat": ["tcp", 40001]}, as nft -j writes element keys and values. */
function jsonValue(text: string): unknown {
  const one = (f: string): unknown => (/^\d+$/.test(f) ? Number(f) : f);
  const fields = text.split(' . ');
  return fields.length > 1 ? { concat: fields.map(one) } : one(text);
}

interface DecodedOp {
  kind: 'add' | 'delete';
  set: string;
  key: Buffer;
  keyEnd?: Buffer;
  data?: Buffer;
}

/** The addon's record format (nft-elements.ts, encodeOps). */
function decodeOps(b: Buffer): DecodedOp[] {
  const ops: DecodedOp[] = [];
  let i = 0;
  const bytes = (n: number) => {
    if (i + n > b.length) throw new FakeRefusal('element batch: truncated record');
    const out = b.subarray(i, i + n);
    i += n;
    return out;
  };
  while (i < b.length) {
    const [kindByte, nameLen] = bytes(2);
    const set = bytes(nameLen!).toString('ascii');
    const key = bytes(bytes(1)[0]!);
    const keyEnd = kindByte! & 0x80 ? bytes(bytes(1)[0]!) : undefined;
    const data = bytes(bytes(1)[0]!);
    bytes(4); // timeout: the fake never expires elements
    ops.push({ kind: (kindByte! & 0x7f) === 1 ? 'add' : 'delete', set, key, keyEnd, data: data.length ? data : undefined });
  }
  return ops;
}
