/**
 * `realmgw reservations` for people: the admin socket's /reservations (gateway.ts), one aligned line per live
 * reservation. Pure.
 */
import { alignColumns } from '../util/columns.js';

/** One element of GET /reservations. */
export interface ReservationView {
  id: number;
  address: string;
  protocol: number;
  port: number;
  service: string;
  host: string;
  target: string;
  boundTo: string | null;
  expiresInMs: number;
}

const PROTOCOLS: { [n: number]: string } = { 0: 'any', 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };

export function formatReservations(rs: readonly ReservationView[]): string {
  if (rs.length === 0) return 'no live reservations\n';
  const rows = rs.map((r) => [
    r.address,
    PROTOCOLS[r.protocol] ?? String(r.protocol),
    r.port === 0 ? 'any' : String(r.port),
    r.service,
    r.target,
    r.boundTo ?? 'anyone',
    `${(r.expiresInMs / 1000).toFixed(1)}s`,
  ]);
  return alignColumns([['ADDRESS', 'PROTO', 'PORT', 'SERVICE', 'TARGET', 'BOUND TO', 'EXPIRES IN'], ...rows]);
}
