/** Text helpers of the fake kernel: statements and lists split at brace depth 0, outside quotes. */

/** Splits at any of `separators` that sits outside braces and quotes; pieces trimmed, empty ones dropped. */
export function splitTop(text: string, separators: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (depth === 0 && separators.includes(c)) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) throw new FakeRefusal('unbalanced }');
  }
  if (depth !== 0 || quoted) throw new FakeRefusal('unbalanced { or "');
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}

/** Drops `# ...` comments (outside quotes) line by line. */
export function stripComments(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '"') quoted = !quoted;
        else if (line[i] === '#' && !quoted) return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

/** `head { body }` -> [head, body]; no block: [text, undefined]. The block must end the text. */
export function splitBlock(text: string): [string, string | undefined] {
  const open = text.indexOf('{');
  if (open < 0) return [text.trim(), undefined];
  if (!text.trimEnd().endsWith('}')) throw new FakeRefusal(`text after a block: ${text}`);
  return [text.slice(0, open).trim(), text.slice(open + 1, text.trimEnd().length - 1)];
}

export const squash = (s: string): string => s.trim().replace(/\s+/g, ' ');

/** What the kernel (or the fake, for what it does not understand) refuses; the message is the tool's. */
export class FakeRefusal extends Error {}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

/** `a.b.c.d` or `a.b.c.d/len` with len 0-32. */
export function isIpv4OrCidr(s: string): boolean {
  const [a, len, more] = s.split('/');
  return more === undefined && isIpv4(a!) && (len === undefined || (/^\d{1,2}$/.test(len) && Number(len) <= 32));
}
