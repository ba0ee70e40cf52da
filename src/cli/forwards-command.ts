/**
 * `realmgw forwards [--json] --config FILE`: the running gateway's static forwards with their counters (GET
 * /forwards on its admin socket), as a table for people or as the JSON itself for programs.
 */
import type { GatewayConfig } from '../config/load-config.js';
import type { ForwardStats } from '../forwards/counters.js';
import { formatForwardsTable } from '../forwards/table.js';
import { readAdmin } from './admin-read.js';
import { stdout } from './command.js';

export async function forwardsCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = stdout): Promise<number> {
  const forwards = (await readAdmin(config, '/forwards', 'forwards')) as ForwardStats[];
  out(json ? `${JSON.stringify(forwards, null, 2)}\n` : formatForwardsTable(forwards));
  return 0;
}
