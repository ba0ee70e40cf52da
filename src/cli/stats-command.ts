/** `realmgw stats [--json] --config FILE`: the running gateway's counters (GET /stats on its admin socket). */
import type { GatewayConfig } from '../config/load-config.js';
import { readAdmin } from './admin-read.js';
import { stdout } from './command.js';
import { formatStats, type StatsView } from './stats-view.js';

export async function statsCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = stdout): Promise<number> {
  const stats = (await readAdmin(config, '/stats', 'stats')) as StatsView;
  out(json ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
  return 0;
}
