/**
 * The lexical layer of RFC 1035 master files (section 5.1): comments, quoted strings with escapes,
 * parentheses that continue an entry across lines, and the "blank owner" rule (an entry whose first line
 * starts with white space reuses the previous owner). Produces logical entries with the line of every token.
 */

export interface Token {
  /** Raw text: escapes are kept, surrounding quotes are not. */
  text: string;
  quoted: boolean;
  line: number;
}

export interface Entry {
  /** Line where the entry starts. */
  line: number;
  /** The entry's first line starts with white space: no owner field. */
  ownerBlank: boolean;
  tokens: Token[];
  /** A lexical error hit this entry; its tokens are not to be interpreted. */
  broken: boolean;
}

export interface LexProblem {
  line: number;
  reason: string;
}

const SPACE = new Set([' ', '\t', '\r']);
const STOP = new Set([' ', '\t', '\r', '\n', ';', '(', ')', '"']);

export function tokenize(text: string): { entries: Entry[]; problems: LexProblem[] } {
  const entries: Entry[] = [];
  const problems: LexProblem[] = [];
  let line = 1;
  let depth = 0;
  let openLine = 0;
  let lineStartsBlank = SPACE.has(text[0] ?? '');
  let entry: Entry | undefined;

  const current = (): Entry => {
    if (!entry) entry = { line, ownerBlank: lineStartsBlank, tokens: [], broken: false };
    return entry;
  };
  const flush = () => {
    if (entry && (entry.tokens.length > 0 || entry.broken)) entries.push(entry);
    entry = undefined;
  };

  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (SPACE.has(ch)) {
      i++;
    } else if (ch === '\n') {
      line++;
      i++;
      lineStartsBlank = SPACE.has(text[i] ?? '');
      if (depth === 0) flush();
    } else if (ch === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '(') {
      current();
      if (depth === 0) openLine = line;
      depth++;
      i++;
    } else if (ch === ')') {
      if (depth === 0) {
        problems.push({ line, reason: "')' without a matching '('" });
        current().broken = true;
      } else {
        depth--;
      }
      i++;
    } else if (ch === '"') {
      const start = line;
      let j = i + 1;
      let raw = '';
      let closed = false;
      while (j < text.length && text[j] !== '\n') {
        if (text[j] === '\\' && j + 1 < text.length && text[j + 1] !== '\n') {
          raw += text[j] + text[j + 1];
          j += 2;
        } else if (text[j] === '"') {
          closed = true;
          j++;
          break;
        } else {
          raw += text[j++];
        }
      }
      const e = current();
      if (!closed) {
        problems.push({ line: start, reason: 'unterminated quoted string' });
        e.broken = true;
      }
      e.tokens.push({ text: raw, quoted: true, line: start });
      i = j;
    } else {
      let j = i;
      let raw = '';
      while (j < text.length && !STOP.has(text[j])) {
        if (text[j] === '\\' && j + 1 < text.length && text[j + 1] !== '\n') {
          raw += text[j] + text[j + 1];
          j += 2;
        } else {
          raw += text[j++];
        }
      }
      current().tokens.push({ text: raw, quoted: false, line });
      i = j;
    }
  }
  if (depth > 0) {
    problems.push({ line: openLine, reason: "'(' is never closed" });
    current().broken = true;
  }
  flush();
  return { entries, problems };
}
