/**
 * What the admin-socket commands (workers, forwards, stats, reservations) share: the config names the socket,
 * and a gateway that is not there is one catalogued line naming the socket, not a stack.
 */
import { adminGet } from '../admin/admin-client.js';
import type { GatewayConfig } from '../config/load-config.js';
import { RealmgwError } from '../errors/realmgw-error.js';

/** GET `route` from the running gateway of `config`; `resource` names it in the error ("workers", "stats"). */
export async function readAdmin(config: GatewayConfig, route: string, resource: string): Promise<unknown> {
  if (!config.admin) throw new RealmgwError('RGW_ADMIN_NOT_CONFIGURED', { file: config.file });
  try {
    return await adminGet(config.admin.socket, route);
  } catch (err) {
    throw new RealmgwError('RGW_ADMIN_UNREACHABLE', { resource, socket: config.admin.socket, reason: (err as Error).message }, { cause: err });
  }
}
