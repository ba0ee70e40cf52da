import type { ForwardStats } from './counters.js';

const HEADER = ['FORWARD', 'PROTO', 'PUBLIC', 'PRIVATE', 'MODE', 'ALLOW', 'CONNS', 'PKTS', 'BYTES'];

/** `realmgw forwards`: one line per forward, columns aligned (pure). */
export function formatForwardsTable(forwards: readonly ForwardStats[]): string {
  if (forwards.length === 0) return 'no static forwards configured\n';
  const num = (n: number | undefined) => (n === undefined ? '-' : String(n));
  const rows = forwards.map((f) => [f.name, f.protocol, f.public, f.private, f.mode, f.allowFrom ? `${f.allowFrom} prefixes` : 'any', num(f.connections), num(f.packets), num(f.bytes)]);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [HEADER, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}
