import type { ErrorCode } from './errors/catalogue.js';

/**
 * One problem found in operator input (config, zone file, policy file).
 * Every loader reports all problems it finds, never just the first, so an operator can fix a file in one pass.
 */
export interface Problem {
  file: string;
  /** Key path inside the file, e.g. ['hosta.gwa.demo.', 'SFQDN', 2, 'protcol']; empty for file-level problems. */
  path: (string | number)[];
  /** 1-based line number when the source position is known. */
  line?: number;
  reason: string;
}

export function formatPath(path: (string | number)[]): string {
  if (path.length === 0) return '(top level)';
  // Keys that contain dots (host FQDNs) are quoted so the path stays unambiguous.
  const seg = (p: string | number) => (typeof p === 'number' ? `[${p}]` : /[.\s"]/.test(p) || p === '' ? JSON.stringify(p) : p);
  return path.map(seg).join('.').replace(/\.\[/g, '[');
}

export function formatProblem(p: Problem): string {
  const where = p.line ? `${p.file}:${p.line}` : p.file;
  return `${where}: ${formatPath(p.path)}: ${p.reason}`;
}

/**
 * Thrown when input is invalid; carries every problem so callers can print them all and apply nothing. The
 * message is the problems themselves (what a log or a test wants); the CLI adds the catalogue's summary line.
 */
export class InputError extends Error {
  readonly code = 'RGW_INVALID_INPUT' satisfies ErrorCode;
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InputError';
  }
}
