/** Thrown by the circular pool for invalid construction options or reservation requests (programming errors). */
export class PoolError extends Error {
  readonly code = 'RGW_POOL_INVALID';
  constructor(message: string) {
    super(`circular pool: ${message}`);
    this.name = 'PoolError';
  }
}
