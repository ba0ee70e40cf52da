/**
 * Domain names in canonical form: lowercase labels joined by '.', no trailing dot, the root is "".
 * Labels are restricted to letters, digits, '-' and '_' (and '*' as a whole label, which callers reject as a
 * wildcard): realmgw serves host and service names, and a stricter alphabet turns typos into errors.
 */

export const MAX_LABEL_BYTES = 63;
export const MAX_NAME_BYTES = 255;

export type NameResult = { name: string; wildcard: boolean } | { error: string };

const LABEL_CHAR = /^[a-z0-9_-]$/;

/** Wire-format length of a canonical name: a length byte per label, the label bytes, the root byte. */
export function wireLength(name: string): number {
  if (name === '') return 1;
  return name.split('.').reduce((n, label) => n + label.length + 1, 1);
}

/** True when `name` equals `zone` or lies below it, compared label by label. */
export function isInZone(name: string, zone: string): boolean {
  if (zone === '') return true;
  return name === zone || name.endsWith('.' + zone);
}

/** Checks decoded labels and joins them; shared by zone-file names and policy FQDNs. */
function finish(labels: string[], text: string): NameResult {
  let wildcard = false;
  for (const label of labels) {
    if (label === '') return { error: `empty label in ${JSON.stringify(text)}` };
    if (label === '*') {
      wildcard = true;
      continue;
    }
    for (const ch of label) {
      if (!LABEL_CHAR.test(ch)) {
        const shown = ch === '.' ? "an escaped '.'" : JSON.stringify(ch);
        return { error: `${shown} is not allowed in name ${JSON.stringify(text)} (letters, digits, '-' and '_' only)` };
      }
    }
    if (label.length > MAX_LABEL_BYTES) {
      return { error: `label ${JSON.stringify(label)} is ${label.length} bytes; at most ${MAX_LABEL_BYTES} are allowed` };
    }
  }
  const name = labels.join('.');
  const bytes = wireLength(name);
  if (bytes > MAX_NAME_BYTES) {
    return { error: `name ${JSON.stringify(text)} is ${bytes} bytes in wire format; at most ${MAX_NAME_BYTES} are allowed` };
  }
  return { name, wildcard };
}

/** Splits presentation text on unescaped dots and decodes `\X` and `\DDD` escapes (RFC 1035 section 5.1). */
function splitLabels(text: string): { labels: string[]; absolute: boolean } | { error: string } {
  const labels: string[] = [];
  let current = '';
  let endedWithDot = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    endedWithDot = false;
    if (ch === '\\') {
      const digits = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits)) {
        const code = Number(digits);
        if (code > 255) return { error: `bad escape \\${digits} in ${JSON.stringify(text)}` };
        current += String.fromCharCode(code);
        i += 3;
      } else if (i + 1 < text.length) {
        current += text[++i];
      } else {
        return { error: `dangling '\\' in ${JSON.stringify(text)}` };
      }
    } else if (ch === '.') {
      labels.push(current);
      current = '';
      endedWithDot = true;
    } else {
      current += ch;
    }
  }
  if (!endedWithDot) labels.push(current);
  return { labels, absolute: endedWithDot };
}

/**
 * Parses a master-file name: "@" is the origin, a name ending in an unescaped '.' is absolute, any other is
 * relative to `origin` (canonical, may be undefined when no origin is known).
 */
export function parseZoneName(text: string, origin: string | undefined): NameResult {
  if (text === '@') {
    if (origin === undefined) return { error: "'@' used but no origin is known" };
    return { name: origin, wildcard: false };
  }
  if (text === '.') return { name: '', wildcard: false };
  const split = splitLabels(text);
  if ('error' in split) return split;
  let labels = split.labels;
  if (!split.absolute) {
    if (origin === undefined) return { error: `relative name ${JSON.stringify(text)} but no origin is known` };
    if (origin !== '') labels = labels.concat(origin.split('.'));
  }
  return finish(labels.map((l) => l.toLowerCase()), text);
}

/**
 * Parses an FQDN written in a policy file: trailing dot optional, no escapes, no '@', never the root.
 * Returns the canonical name.
 */
export function parseFqdn(text: string): NameResult {
  if (text === '' || text === '.') return { error: 'the root is not a valid host or service name' };
  if (/[\\@\s]/.test(text)) return { error: `${JSON.stringify(text)} is not a domain name` };
  const body = text.endsWith('.') ? text.slice(0, -1) : text;
  return finish(body.toLowerCase().split('.'), text);
}
