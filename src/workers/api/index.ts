/** The registration API between workers and the gateway: wire format, server, client, and the operator's view. */
export * from './protocol.js';
export { WorkersApiServer, type WorkersApiServerOptions } from './server.js';
export { ApiRefusedError, ApiUnreachableError, WorkersApiClient, type WorkersApiClientOptions } from './client.js';
export { type LeaseRow, type WorkerRow, type WorkersView, formatAge, formatBytes, formatWorkersTable } from './view.js';
