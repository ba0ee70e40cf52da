/**
 * `realmgw workers [--json] --config FILE`: what the running gateway says about its workers (GET /workers on
 * its admin socket), as a table for people or as the JSON itself for programs.
 */
import { adminGet } from '../admin/admin-client.js';
import type { GatewayConfig } from '../config/load-config.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import { formatWorkersTable, type WorkersView } from '../workers/api/view.js';

export async function workersCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (!config.admin) throw new RealmgwError('RGW_ADMIN_NOT_CONFIGURED', { file: config.file });
  if (!config.workers) process.stderr.write(`realmgw: note: ${config.file} has no workers section\n`);
  let view: WorkersView | null;
  try {
    view = (await adminGet(config.admin.socket, '/workers')) as WorkersView | null;
  } catch (err) {
    throw new RealmgwError('RGW_ADMIN_UNREACHABLE', { socket: config.admin.socket, reason: (err as Error).message }, { cause: err });
  }
  if (view === null) throw new RealmgwError('RGW_NO_WORKERS', { socket: config.admin.socket });
  out(json ? `${JSON.stringify(view, null, 2)}\n` : formatWorkersTable(view, Date.now()));
  return 0;
}
