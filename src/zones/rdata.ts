/** Presentation-format RDATA of the supported types, converted to dns-packet `data` shapes. */

import { isIP } from 'node:net';
import { isIpv4 } from '../util/ipv4.js';
import { parseZoneName } from './names.js';
import type { Token } from './tokenizer.js';

export type RdataResult = { data: unknown } | { error: string };

class RdataError extends Error {}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
export const MAX_TTL = 2 ** 31 - 1;

/**
 * A TTL: decimal seconds (RFC 1035), or BIND's unit form such as "1h30m" (units s, m, h, d, w).
 * Returns undefined when `text` is not TTL-shaped at all; throws-free: range problems come back as an error.
 */
export function parseTtl(text: string): number | { error: string } | undefined {
  let seconds: number;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else if (/^(\d+[smhdw])+$/i.test(text)) {
    seconds = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/gi)) seconds += Number(n) * UNITS[unit.toLowerCase()];
  } else {
    return undefined;
  }
  if (seconds > MAX_TTL) return { error: `TTL ${text} is above the maximum ${MAX_TTL} (RFC 2181)` };
  return seconds;
}

/** Decodes a <character-string> (quoted or not) into bytes: `\X` is X, `\DDD` is the byte DDD. */
function decodeBytes(raw: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') {
      const digits = raw.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits)) {
        const code = Number(digits);
        if (code > 255) throw new RdataError(`bad escape \\${digits}`);
        out.push(code);
        i += 3;
        continue;
      }
      i++;
    }
    const cp = raw.codePointAt(i)!;
    if (cp > 0xffff) i++;
    out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function bytesToString(bytes: number[], what: string): string {
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    throw new RdataError(`${what} is not valid UTF-8 (binary data is not supported)`);
  }
}

class Reader {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly origin: string,
  ) {}

  private next(what: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new RdataError(`missing ${what}`);
    return t;
  }

  int(what: string, max: number): number {
    const t = this.next(what);
    if (t.quoted || !/^\d+$/.test(t.text) || Number(t.text) > max) {
      throw new RdataError(`${what} must be an integer 0..${max}, not ${JSON.stringify(t.text)}`);
    }
    return Number(t.text);
  }

  /** SOA timers: decimal seconds or unit form, as BIND accepts. */
  duration(what: string): number {
    const t = this.next(what);
    const v = t.quoted ? undefined : parseTtl(t.text);
    if (typeof v !== 'number' || v > 0xffffffff) throw new RdataError(`${what} must be a time in seconds, not ${JSON.stringify(t.text)}`);
    return v;
  }

  name(what: string): string {
    const t = this.next(what);
    if (t.quoted) throw new RdataError(`${what} must not be quoted`);
    const r = parseZoneName(t.text, this.origin);
    if ('error' in r) throw new RdataError(`${what}: ${r.error}`);
    if (r.wildcard) throw new RdataError(`${what} ${JSON.stringify(t.text)}: a wildcard is not a valid target`);
    return r.name;
  }

  text(what: string, maxBytes?: number): string {
    const t = this.next(what);
    const bytes = decodeBytes(t.text);
    if (maxBytes !== undefined && bytes.length > maxBytes) {
      throw new RdataError(`${what} is ${bytes.length} bytes; a character-string holds at most ${maxBytes}`);
    }
    return bytesToString(bytes, what);
  }

  raw(what: string): Token {
    return this.next(what);
  }

  more(): boolean {
    return this.i < this.tokens.length;
  }

  end(): void {
    const t = this.tokens[this.i];
    if (t) throw new RdataError(`unexpected ${JSON.stringify(t.text)} after the record data`);
  }
}

function parseByType(type: string, r: Reader): unknown {
  switch (type) {
    case 'A': {
      const t = r.raw('IPv4 address');
      if (t.quoted || !isIpv4(t.text)) throw new RdataError(`${JSON.stringify(t.text)} is not an IPv4 address`);
      return t.text;
    }
    case 'AAAA': {
      const t = r.raw('IPv6 address');
      if (t.quoted || isIP(t.text) !== 6) throw new RdataError(`${JSON.stringify(t.text)} is not an IPv6 address`);
      return t.text.toLowerCase();
    }
    case 'NS':
      return r.name('name server');
    case 'CNAME':
      return r.name('canonical name');
    case 'PTR':
      return r.name('pointer target');
    case 'MX':
      return { preference: r.int('preference', 65535), exchange: r.name('exchange') };
    case 'SOA':
      return {
        mname: r.name('primary name server (mname)'),
        rname: r.name('mailbox (rname)'),
        serial: r.int('serial', 0xffffffff),
        refresh: r.duration('refresh'),
        retry: r.duration('retry'),
        expire: r.duration('expire'),
        minimum: r.duration('minimum'),
      };
    case 'SRV':
      return {
        priority: r.int('priority', 65535),
        weight: r.int('weight', 65535),
        port: r.int('port', 65535),
        target: r.name('target'),
      };
    case 'TXT': {
      const strings = [r.text('text', 255)];
      while (r.more()) strings.push(r.text('text', 255));
      return strings;
    }
    case 'CAA': {
      const flags = r.int('flags', 255);
      const tag = r.raw('tag');
      if (tag.quoted || !/^[a-z0-9]+$/i.test(tag.text)) throw new RdataError(`CAA tag ${JSON.stringify(tag.text)} must be letters and digits`);
      return { flags, tag: tag.text.toLowerCase(), value: r.text('value') };
    }
    default:
      throw new RdataError(`type ${type} has no RDATA parser`);
  }
}

/** Parses the RDATA tokens of a record of `type` (one of SUPPORTED_TYPES); relative names use `origin`. */
export function parseRdata(type: string, tokens: Token[], origin: string): RdataResult {
  if (tokens[0] && !tokens[0].quoted && tokens[0].text === '\\#') {
    return { error: 'the generic RDATA form \\# (RFC 3597) is not supported' };
  }
  const reader = new Reader(tokens, origin);
  try {
    const data = parseByType(type, reader);
    reader.end();
    return { data };
  } catch (e) {
    if (e instanceof RdataError) return { error: e.message };
    throw e;
  }
}
