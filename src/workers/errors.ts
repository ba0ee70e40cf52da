/** Errors of the worker registry. Refusals of worker requests are results, not errors; these are for the operator. */
import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';

/** One problem in the workers section of the config; `path` is relative to that section. */
export interface ConfigProblem {
  path: (string | number)[];
  reason: string;
}

/** Thrown when a Registry is built from an invalid config: carries every problem, so all can be printed at once. */
export class WorkersConfigError extends Error {
  readonly code = 'RGW_WORKERS_CONFIG' satisfies ErrorCode;
  constructor(readonly problems: ConfigProblem[]) {
    super(errorMessage('RGW_WORKERS_CONFIG', { problems: problems.map((p) => `${p.path.join('.') || '(top level)'}: ${p.reason}`).join('; ') }));
    this.name = 'WorkersConfigError';
  }
}

export type StateFileErrorCode = Extract<ErrorCode, 'RGW_STATE_CORRUPT' | 'RGW_STATE_VERSION' | 'RGW_STATE_IO'>;

/**
 * A state file that cannot be used: unreadable, not JSON, not ours, another version, or inconsistent. Never
 * swallowed: the caller decides whether to stop or to start empty (and says so in its log).
 */
export class StateFileError extends Error {
  constructor(
    readonly code: StateFileErrorCode,
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(errorMessage(code, { file, reason: message }), options);
    this.name = 'StateFileError';
  }
}
