/**
 * What `realmgw workers` shows: the JSON the gateway serves (GET /workers on the admin socket, built by
 * WorkersService.view()) and the table made from it for people. Pure.
 */
import { type Counters } from '../accounting.js';
import type { WorkersView } from '../view-model.js';

export type { LeaseRow, NatSummary, WorkerRow, WorkersView } from '../view-model.js';

const HEADER = ['WORKER', 'ADDRESS', 'ENDPOINT', 'CONNS', 'PKTS IN/OUT', 'BYTES IN/OUT', 'LAST SEEN'];

/** One line per lease (a worker without leases gets one line with `-`), columns aligned. `now` is epoch ms. */
export function formatWorkersTable(view: WorkersView, now: number): string {
  if (view.workers.length === 0) return `no workers registered (public address ${view.publicAddress})\n`;
  const rows: string[][] = [HEADER];
  for (const w of view.workers) {
    const seen = formatAge(now - w.lastSeen);
    if (w.leases.length === 0) rows.push([w.name, w.address, '-', '-', '-', '-', seen]);
    for (const l of w.leases) {
      const c = l.counters;
      rows.push([w.name, w.address, l.endpoint, String(c.connections), `${c.packetsIn}/${c.packetsOut}`, `${formatBytes(c.bytesIn)}/${formatBytes(c.bytesOut)}`, seen]);
    }
  }
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** `512B`, `1.5KiB`, `20.0MiB`: short enough for a column, exact below 1 KiB. */
export function formatBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024) return `${n}B`;
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)}${units[u]}`;
}

/** `4s ago`, `3m ago`, `2h ago`; a clock slightly behind the gateway's reads as `now`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return 'now';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m ago`;
  return `${Math.floor(m / 60)}h ago`;
}
