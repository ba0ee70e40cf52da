import type { ErrorCode } from '../errors/catalogue.js';
import { errorMessage } from '../errors/realmgw-error.js';

/** Thrown by the circular pool for invalid construction options or reservation requests (programming errors). */
export class PoolError extends Error {
  readonly code = 'RGW_POOL_INVALID' satisfies ErrorCode;
  constructor(message: string) {
    super(errorMessage('RGW_POOL_INVALID', { reason: message }));
    this.name = 'PoolError';
  }
}
