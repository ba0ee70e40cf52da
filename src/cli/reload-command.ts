/**
 * `realmgw reload --config FILE`: asks the running gateway (POST /reload on its admin socket) to read its files
 * again, prints what happened, exits 1 when nothing was applied. The gateway reads the files it was started
 * with; FILE only says where its admin socket is.
 */
import { adminPost } from '../admin/admin-client.js';
import type { GatewayConfig } from '../config/load-config.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import type { ReloadResult } from '../reload/reloader.js';

export async function reloadCommand(config: GatewayConfig, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const socket = config.admin?.socket;
  if (!socket) throw new RealmgwError('RGW_RELOAD_UNREACHABLE', { socket: '(none)', reason: `${config.file} has no admin.socket` });
  let result: ReloadResult;
  try {
    result = (await adminPost(socket, '/reload')) as ReloadResult;
  } catch (err) {
    throw new RealmgwError('RGW_RELOAD_UNREACHABLE', { socket, reason: (err as Error).message }, { cause: err });
  }
  if (!result.ok) {
    for (const p of result.problems) process.stderr.write(`${p}\n`);
    throw new RealmgwError('RGW_RELOAD_REFUSED', { outcome: result.outcome, count: result.problems.length });
  }
  const changed = result.changed.length ? `: ${result.changed.join(', ')}` : '';
  out(`${result.outcome}${changed}${result.kernel.length ? ` (kernel: ${result.kernel.length} nft operations in one transaction)` : ''}\n`);
  return 0;
}
