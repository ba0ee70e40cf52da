import type { Server } from 'node:http';

/**
 * Closes an HTTP server now: its open connections (keep-alive ones included) are cut, then it stops listening.
 * A stop must not wait for a client that keeps a connection open.
 */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
