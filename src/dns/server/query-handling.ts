import type { QueryHandler } from './query-handler.js';

/** What a listener needs of a query handler; tests pass a stand-in. */
export type QueryHandling = Pick<QueryHandler, 'handle'>;
