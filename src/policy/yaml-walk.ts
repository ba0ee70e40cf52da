/**
 * Typed reading of a parsed YAML document that reports every problem with its key path and line, so the
 * validators never touch untyped plain objects.
 */

import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Scalar } from 'yaml';
import type { Problem } from '../errors.js';
import { suggest } from './suggest.js';

export type Path = (string | number)[];

export interface Field {
  key: string;
  keyNode: Scalar;
  /** The value node; null for `key:` with nothing after it. */
  value: Node | null;
}

/** Known fields of a mapping by key, plus the known keys that some unknown key was suggested as. */
export class Fields extends Map<string, Field> {
  readonly suggested = new Set<string>();
}

export class FileCtx {
  readonly problems: Problem[] = [];
  /** Same shape as problems, but they do not refuse the file (keys Realm Gateway read and then ignored). */
  readonly warnings: Problem[] = [];

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  line(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }

  fail(path: Path, node: unknown, reason: string): void {
    this.problems.push(this.at(path, node, reason));
  }

  warn(path: Path, node: unknown, reason: string): void {
    this.warnings.push(this.at(path, node, reason));
  }

  private at(path: Path, node: unknown, reason: string): Problem {
    const line = this.line(node);
    return line === undefined ? { file: this.file, path: [...path], reason } : { file: this.file, path: [...path], line, reason };
  }

  /** Follows an alias (`*name`) to its anchor's node. */
  resolve(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }
}

/**
 * yaml's alias-bomb rule (maxAliasCount) for documents the walker reads node by node: the walker follows each
 * alias without that limit, so nested aliases could make it visit billions of nodes from a few lines. toJS
 * applies the rule and stops at the first excess, so calling it costs no more than the file is worth.
 */
export function aliasBomb(doc: Document, file: string): Problem | undefined {
  try {
    doc.toJS();
    return undefined;
  } catch (err) {
    return { file, path: [], reason: `YAML: ${(err as Error).message}` };
  }
}

/** Describes what a node holds, for messages such as "must be a boolean, not a string". */
export function describe(node: Node | null): string {
  if (node === null || (isScalar(node) && node.value === null)) return 'empty';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return 'an unsupported value';
}

/** Keys outside a mapping's known set that still get a specific answer instead of "unknown key". */
export interface KeyNotes {
  /** Refused, with this reason. */
  retired?: Record<string, string>;
  /** Accepted with this warning; their values are not read, so they never reach the model. */
  ignored?: Record<string, string>;
}

/**
 * Reads a mapping with a fixed key set. Unknown keys are reported (with a suggestion when close, or with the
 * reason from `notes.retired` for keys that are deliberately not accepted); `notes.ignored` keys only warn.
 * Returns the known fields by key.
 */
export function readMap(ctx: FileCtx, raw: unknown, path: Path, known: readonly string[], notes: KeyNotes = {}): Fields | undefined {
  const retired = notes.retired ?? {};
  const ignored = notes.ignored ?? {};
  // A misspelt ignored key is still a misspelling: suggest it like a known one.
  const candidates = [...known, ...Object.keys(ignored)];
  const node = ctx.resolve(raw);
  if (!isMap(node)) {
    ctx.fail(path, node ?? raw, `must be a mapping of ${known.map((k) => `'${k}'`).join(', ')}, not ${describe(node)}`);
    return undefined;
  }
  const fields = new Fields();
  for (const pair of node.items) {
    const keyNode = ctx.resolve(pair.key);
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      ctx.fail(path, keyNode ?? node, `keys must be strings, not ${describe(keyNode)}`);
      continue;
    }
    const key = keyNode.value;
    if (Object.hasOwn(ignored, key)) {
      ctx.warn([...path, key], keyNode, ignored[key]);
      continue;
    }
    if (!known.includes(key)) {
      const guess = suggest(key, candidates);
      if (guess !== undefined) fields.suggested.add(guess);
      const reason = (Object.hasOwn(retired, key) ? retired[key] : undefined) ?? `unknown key '${key}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`}`;
      ctx.fail([...path, key], keyNode, reason);
      continue;
    }
    fields.set(key, { key, keyNode, value: ctx.resolve(pair.value) });
  }
  return fields;
}

/** The items of a list, or undefined (reported) when the node is not a list. */
export function readList(ctx: FileCtx, node: Node | null, path: Path, example: string): (Node | null)[] | undefined {
  if (!isSeq(node)) {
    ctx.fail(path, node, `must be a list, e.g. ${example}, not ${describe(node)}`);
    return undefined;
  }
  return node.items.map((item) => ctx.resolve(item));
}

export function readString(ctx: FileCtx, node: Node | null, path: Path): string | undefined {
  if (isScalar(node) && typeof node.value === 'string') return node.value;
  ctx.fail(path, node, `must be a string, not ${describe(node)}`);
  return undefined;
}

export function readBool(ctx: FileCtx, node: Node | null, path: Path): boolean | undefined {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  ctx.fail(path, node, `must be true or false, not ${describe(node)}`);
  return undefined;
}

/**
 * An integer in [min, max]. RealmGateway firewall rules write numbers as strings ('17', '53'); pass
 * `allowDigits` to accept a string of digits too.
 */
export function readInt(ctx: FileCtx, node: Node | null, path: Path, min: number, max: number, allowDigits = false): number | undefined {
  let value: number | undefined;
  if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value)) value = node.value;
  else if (allowDigits && isScalar(node) && typeof node.value === 'string' && /^-?\d+$/.test(node.value)) value = Number(node.value);
  if (value === undefined || value < min || value > max) {
    ctx.fail(path, node, `must be an integer ${min}..${max}, not ${describe(node)}`);
    return undefined;
  }
  return value;
}

/**
 * Reports a required key that is absent (`mapNode` locates the problem), unless a misspelt key was already
 * reported with this key as its suggestion.
 */
export function requireField(ctx: FileCtx, fields: Fields, key: string, mapNode: unknown, path: Path): Field | undefined {
  const f = fields.get(key);
  if (!f && !fields.suggested.has(key)) ctx.fail(path, mapNode, `missing required key '${key}'`);
  return f;
}
