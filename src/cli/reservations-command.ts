/** `realmgw reservations [--json] --config FILE`: the live reservations of the running gateway's pool. */
import type { GatewayConfig } from '../config/load-config.js';
import { readAdmin } from './admin-read.js';
import { stdout } from './command.js';
import { formatReservations, type ReservationView } from './reservations-view.js';

export async function reservationsCommand(config: GatewayConfig, json: boolean, out: (text: string) => void = stdout): Promise<number> {
  const reservations = (await readAdmin(config, '/reservations', 'reservations')) as ReservationView[];
  out(json ? `${JSON.stringify(reservations, null, 2)}\n` : formatReservations(reservations));
  return 0;
}
