/**
 * What the CLI prints on stderr for an error that ends a command, and its exit status (pure, so every case is
 * tested without spawning a process). An operator's mistake is one `code: message` line, never a stack; input
 * problems keep their `file:line: key.path: reason` lines above it. Only an uncatalogued error — a bug — shows
 * its stack, because that is what a bug report needs.
 */
import { InputError, formatProblem } from '../errors.js';
import { isErrorCode, type ErrorCode } from '../errors/catalogue.js';
import { errorMessage, exitStatusOf } from '../errors/realmgw-error.js';

export interface ErrorReport {
  /** stderr lines, without newlines */
  lines: string[];
  exit: number;
}

/** True for an error whose catalogued code may end a command (it has an exit status). */
export function endsCommand(err: unknown): err is Error & { code: ErrorCode } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && isErrorCode(code) && exitStatusOf(code) !== undefined;
}

export function reportError(err: unknown): ErrorReport {
  if (err instanceof InputError) {
    const summary = errorMessage('RGW_INVALID_INPUT', { count: err.problems.length });
    return { lines: [...err.problems.map(formatProblem), `RGW_INVALID_INPUT: ${summary}`], exit: exitStatusOf('RGW_INVALID_INPUT') ?? 1 };
  }
  if (endsCommand(err)) return { lines: [`${err.code}: ${err.message}`], exit: exitStatusOf(err.code) ?? 1 };
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return { lines: [`RGW_INTERNAL: ${errorMessage('RGW_INTERNAL', { stack })}`], exit: exitStatusOf('RGW_INTERNAL') ?? 1 };
}
