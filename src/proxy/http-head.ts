// Just enough of HTTP/1.x (RFC 9112) to route a connection by the name it asks for: find the end of the request
// head, read the request line and the Host field. Nothing is rewritten; the relay replays the bytes it read.
// Pure code: a Buffer in, a verdict out, never an exception, whatever the bytes.
import { canonicalName } from './names.js';

export type HeadVerdict =
  /** `name` is undefined when the authority is well formed but not a host name (an IP literal, say): 421. */
  | { kind: 'host'; name: string | undefined }
  | { kind: 'malformed'; reason: string };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Offset just past the empty line that ends the head, or -1 while it has not arrived. `from` lets a caller
 * that appends chunks resume the scan instead of rescanning (pass where the previous scan stopped).
 * RFC 9112 §2.2: a bare LF may end a line, and empty lines before the request line are ignored.
 */
export function headEnd(buf: Buffer, from = 0): number {
  let start = 0;
  while (start < buf.length && (buf[start] === LF || (buf[start] === CR && buf[start + 1] === LF))) start += buf[start] === CR ? 2 : 1;
  let i = buf.indexOf(LF, Math.max(from, start));
  while (i !== -1) {
    if (buf[i + 1] === LF) return i + 2;
    if (buf[i + 1] === CR && buf[i + 2] === LF) return i + 3;
    i = buf.indexOf(LF, i + 1);
  }
  return -1;
}

/** Where a caller should resume headEnd() once more bytes are appended to a buffer of `length` bytes. */
export function resumeScanAt(length: number): number {
  // the terminator is at most 3 bytes (LF CR LF): its start may already be in the buffer
  return Math.max(0, length - 2);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([^ ]+) ([^ ]+) HTTP\/[0-9]\.[0-9]$/;
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/;
// RFC 3986 reg-name characters (unreserved, pct-encoded, sub-delims); validity as a DNS name is checked later
const REG_NAME = /^[A-Za-z0-9._~%!$&'()*+,;=-]*$/;
const IP_LITERAL = /^\[[0-9A-Fa-f:.]+\]$|^\[v[0-9A-Fa-f]+\.[A-Za-z0-9._~!$&'()*+,;=:-]+\]$/;

/** The head (request line and fields, up to and including the empty line) -> the name to route by. */
export function parseRequestHead(head: Buffer): HeadVerdict {
  // latin1 maps every byte to one char, so nothing is lost or replaced; obs-text in values stays as-is
  const lines = head.toString('latin1').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const requestLine = lines.shift();
  if (requestLine === undefined) return malformed('empty request');
  const m = REQUEST_LINE.exec(requestLine);
  if (!m || !TOKEN.test(m[1]!)) return malformed('bad request line');
  const target = m[2]!;

  let hosts = 0;
  let hostValue = '';
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) return malformed('obsolete line folding');
    const colon = line.indexOf(':');
    if (colon <= 0) return malformed('field without a name');
    const name = line.slice(0, colon);
    // RFC 9112 §5.1: whitespace between the name and the colon must be rejected (a smuggling vector)
    if (!TOKEN.test(name)) return malformed('bad field name');
    const value = line.slice(colon + 1);
    if (/[\r\0]/.test(value)) return malformed('bad field value');
    if (name.toLowerCase() === 'host') {
      hosts++;
      hostValue = value.replace(/^[ \t]+|[ \t]+$/g, '');
    }
  }
  if (hosts > 1) return malformed('more than one Host field');

  if (target.startsWith('/') || target === '*') {
    if (hosts === 0) return malformed('no Host field');
    return authority(hostValue);
  }
  // absolute-form: RFC 9112 §3.2.2 says the target's authority wins over Host, for us and for the origin alike
  const abs = ABSOLUTE.exec(target);
  if (!abs) return malformed('unsupported request target (authority-form or garbage)');
  const scheme = abs[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return malformed('request target is not an http(s) URI');
  return authority(abs[2]!);
}

/** host[:port] -> verdict; the port is not ours to check beyond its syntax (the relay keeps the listener's). */
function authority(value: string): HeadVerdict {
  if (value.includes('@')) return malformed('userinfo in the authority');
  let host = value;
  const portAt = value.lastIndexOf(':');
  if (portAt !== -1 && !value.endsWith(']')) {
    if (!/^[0-9]*$/.test(value.slice(portAt + 1))) return malformed('bad port in the authority');
    host = value.slice(0, portAt);
  }
  if (host === '') return malformed('empty host');
  if (host.startsWith('[')) return IP_LITERAL.test(host) ? { kind: 'host', name: undefined } : malformed('bad IP literal');
  if (!REG_NAME.test(host)) return malformed('bad host');
  return { kind: 'host', name: canonicalName(host) };
}

function malformed(reason: string): HeadVerdict {
  return { kind: 'malformed', reason };
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** The whole answer the relay sends before closing a connection it will not relay. */
export function refusalResponse(status: 400 | 408 | 421 | 431 | 502 | 504): Buffer {
  return Buffer.from(`HTTP/1.1 ${status} ${REASON[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 'latin1');
}
