/**
 * A reload's nft transaction (pure): from the table realmgw installed (its rendered text) to the newly rendered
 * one WITHOUT deleting and recreating the table. A recreated table would lose what the kernel holds beyond the
 * rendering: nftset mode's pending reservations and their DNAT targets (elements realmgw adds at run time),
 * the named counters' values (the forwards' traffic). kube-proxy's nftables mode learnt the same about its
 * affinity sets.
 *
 * The rule, by what each object is:
 *   chains           flushed and refilled (new ones added, vanished ones flushed then deleted)
 *   static sets/maps (no `timeout`/`dynamic` flag: pool, mark_dnat): flushed and refilled from config
 *   dynamic sets     (declared with `timeout` or `dynamic`: the reservation sets and maps): left alone;
 *                    new ones are added, vanished ones deleted. A dynamic set whose declaration changed
 *                    cannot be redeclared without losing its elements: refused (the caller restarts)
 *   named counters   kept (their counts survive), new ones added, vanished ones deleted
 * Rules that name a vanished object are flushed before it is deleted, in the same transaction: `nft -f`
 * applies it atomically, so a packet sees the old table or the new one, never a mix.
 *
 * It reads ruleset.ts's own layout (`\t<kind> <name> {` ... `\t}` inside `table ip <t> {`), nothing else.
 */

export type NftObjectKind = 'set' | 'map' | 'counter' | 'chain';

export interface NftObject {
  kind: NftObjectKind;
  name: string;
  /** The block's lines, without their indentation. */
  body: string[];
}

/** Every top-level object of the rendered table, in order. */
export function nftObjects(rendered: string): NftObject[] {
  const out: NftObject[] = [];
  let current: NftObject | undefined;
  for (const line of rendered.split('\n')) {
    if (current) {
      if (line === '\t}') {
        out.push(current);
        current = undefined;
      } else current.body.push(line.trim());
      continue;
    }
    const m = /^\t(set|map|counter|chain) ([A-Za-z_][\w]*) \{$/.exec(line);
    if (m) current = { kind: m[1] as NftObjectKind, name: m[2]!, body: [] };
  }
  if (current) throw new Error(`rendered ruleset: ${current.kind} ${current.name} is not closed`);
  return out;
}

/** A set or map whose elements realmgw adds at run time (the kernel or userspace expires them). */
export function isDynamic(o: NftObject): boolean {
  if (o.kind !== 'set' && o.kind !== 'map') return false;
  const flags = o.body.find((l) => l.startsWith('flags '));
  return flags !== undefined && /\b(timeout|dynamic)\b/.test(flags);
}

const declaration = (o: NftObject): string => o.body.filter((l) => !l.startsWith('elements')).join('\n');
const block = (o: NftObject): string[] => [`\t${o.kind} ${o.name} {`, ...o.body.map((l) => `\t\t${l}`), '\t}'];

export interface NftUpdate {
  /** One `nft -f` transaction; '' when nothing changes. */
  text: string;
  /** What it changes, for the log and tests: `flush chain x`, `add counter y`, ... */
  operations: string[];
}

/**
 * The transaction that turns the installed table `installed` into `next` (both as ruleset.ts renders them).
 * Throws when that cannot be done in place (a dynamic set's declaration changed).
 */
export function renderNftUpdate(table: string, installed: string, next: string): NftUpdate {
  if (installed === next) return { text: '', operations: [] };
  const before = new Map(nftObjects(installed).map((o) => [`${o.kind} ${o.name}`, o]));
  const after = nftObjects(next);
  const afterKeys = new Set(after.map((o) => `${o.kind} ${o.name}`));
  const ops: string[] = [];
  const head: string[] = [`# realmgw reload: table ip ${table} changed in place (reservation sets and counters kept)`, `table ip ${table}`];
  const blocks: string[] = [];
  for (const o of before.values()) if (o.kind === 'chain') head.push(`flush chain ip ${table} ${o.name}`), ops.push(`flush chain ${o.name}`);
  for (const o of after) {
    const old = before.get(`${o.kind} ${o.name}`);
    if (o.kind === 'chain') {
      blocks.push(...block(o));
      if (!old) ops.push(`add chain ${o.name}`);
      continue;
    }
    if (o.kind === 'counter') {
      if (!old) blocks.push(...block(o)), ops.push(`add counter ${o.name}`);
      continue;
    }
    if (isDynamic(o)) {
      if (!old) blocks.push(...block(o)), ops.push(`add ${o.kind} ${o.name}`);
      else if (declaration(old) !== declaration(o)) throw new Error(`${o.kind} ${o.name} holds run-time elements and its declaration changed: restart realmgw to apply it`);
      continue;
    }
    if (old && declaration(old) !== declaration(o)) {
      // a static set is refilled from config anyway: a new declaration only costs it a delete first
      head.push(`delete ${o.kind} ip ${table} ${o.name}`);
      ops.push(`replace ${o.kind} ${o.name}`);
    } else if (old) {
      head.push(`flush ${o.kind} ip ${table} ${o.name}`);
      ops.push(`refill ${o.kind} ${o.name}`);
    } else ops.push(`add ${o.kind} ${o.name}`);
    blocks.push(...block(o));
  }
  // vanished objects go after every chain was flushed (no rule refers to them any more), chains first
  const gone = [...before.values()].filter((o) => !afterKeys.has(`${o.kind} ${o.name}`));
  for (const o of gone.filter((g) => g.kind === 'chain')) head.push(`delete chain ip ${table} ${o.name}`), ops.push(`delete chain ${o.name}`);
  for (const o of gone.filter((g) => g.kind !== 'chain')) head.push(`delete ${o.kind} ip ${table} ${o.name}`), ops.push(`delete ${o.kind} ${o.name}`);
  return { text: [...head, `table ip ${table} {`, ...blocks, '}', ''].join('\n'), operations: ops };
}
