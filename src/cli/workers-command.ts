/**
 * `realmgw workers [--json] --config FILE`: what the running gateway says about its workers (GET /workers on
 * its admin socket), as a table for people or as the JSON itself for programs.
 */
import { adminGet } from '../admin/admin-client.js';
import type { GatewayConfig } from '../config/load-config.js';
import { formatWorkersTable, type WorkersView } from '../workers/api/view.js';

export async function workersCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (!config.admin) {
    process.stderr.write(`realmgw: ${config.file} has no admin.socket: the gateway's workers cannot be read\n`);
    return 1;
  }
  if (!config.workers) process.stderr.write(`realmgw: note: ${config.file} has no workers section\n`);
  let view: WorkersView | null;
  try {
    view = (await adminGet(config.admin.socket, '/workers')) as WorkersView | null;
  } catch (err) {
    process.stderr.write(`realmgw: cannot read workers from ${config.admin.socket}: ${(err as Error).message}\n`);
    return 1;
  }
  if (view === null) {
    process.stderr.write(`realmgw: the gateway at ${config.admin.socket} runs without workers\n`);
    return 1;
  }
  out(json ? `${JSON.stringify(view, null, 2)}\n` : formatWorkersTable(view, Date.now()));
  return 0;
}
