/**
 * `realmgw workers [--json] --config FILE`: what the running gateway says about its workers (GET /workers on
 * its admin socket), as a table for people or as the JSON itself for programs.
 */
import type { GatewayConfig } from '../config/load-config.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import { formatWorkersTable, type WorkersView } from '../workers/api/view.js';
import { readAdmin } from './admin-read.js';
import { stdout } from './command.js';

export async function workersCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = stdout): Promise<number> {
  if (config.admin && !config.workers) process.stderr.write(`realmgw: note: ${config.file} has no workers section\n`);
  const view = (await readAdmin(config, '/workers', 'workers')) as WorkersView | null;
  if (view === null) throw new RealmgwError('RGW_NO_WORKERS', { socket: config.admin!.socket });
  out(json ? `${JSON.stringify(view, null, 2)}\n` : formatWorkersTable(view, Date.now()));
  return 0;
}
