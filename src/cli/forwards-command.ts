/**
 * `realmgw forwards [--json] --config FILE`: the running gateway's static forwards with their counters (GET
 * /forwards on its admin socket), as a table for people or as the JSON itself for programs.
 */
import { adminGet } from '../admin/admin-client.js';
import type { GatewayConfig } from '../config/load-config.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import type { ForwardStats } from '../forwards/counters.js';
import { formatForwardsTable } from '../forwards/table.js';

export async function forwardsCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (!config.admin) throw new RealmgwError('RGW_ADMIN_NOT_CONFIGURED', { file: config.file });
  let forwards: ForwardStats[];
  try {
    forwards = (await adminGet(config.admin.socket, '/forwards')) as ForwardStats[];
  } catch (err) {
    throw new RealmgwError('RGW_ADMIN_UNREACHABLE', { socket: config.admin.socket, reason: (err as Error).message }, { cause: err });
  }
  out(json ? `${JSON.stringify(forwards, null, 2)}\n` : formatForwardsTable(forwards));
  return 0;
}
