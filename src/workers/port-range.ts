/** The range public ports are leased from, and its checks against the ports the host already uses. */

/** `[start, end]`, both inclusive. */
export type PortRange = readonly [number, number];

export type PortRangeProblemCode = 'malformed' | 'out-of-bounds' | 'inverted' | 'ephemeral-overlap' | 'reserved-overlap';

export interface PortRangeProblem {
  code: PortRangeProblemCode;
  reason: string;
}

export interface PortRangeContext {
  /** The host's ephemeral range, from /proc/sys/net/ipv4/ip_local_port_range (see parseIpLocalPortRange). */
  ephemeral: PortRange;
  /** Ports already taken on the public address: static forwards, pool ports, the gateway's own listeners. */
  reserved: readonly number[];
}

const MAX_LISTED = 10;

/** Every problem with `range` (empty when it is usable). `range` may be anything a config file held. */
export function validatePortRange(range: unknown, ctx: PortRangeContext): PortRangeProblem[] {
  const problems = portRangeShapeProblems(range);
  if (problems.length > 0) return problems;
  const [start, end] = range as [number, number];
  const [lo, hi] = ctx.ephemeral;
  if (start <= hi && lo <= end) {
    problems.push({
      code: 'ephemeral-overlap',
      reason:
        `${Math.max(start, lo)}-${Math.min(end, hi)} is inside the local ephemeral range ${lo}-${hi} ` +
        `(net.ipv4.ip_local_port_range): the gateway's own outbound connections could take those ports`,
    });
  }
  const clashes = [...new Set(ctx.reserved)].filter((p) => p >= start && p <= end).sort((a, b) => a - b);
  if (clashes.length > 0) {
    const listed = clashes.slice(0, MAX_LISTED).join(', ') + (clashes.length > MAX_LISTED ? `, … (${clashes.length} in all)` : '');
    problems.push({ code: 'reserved-overlap', reason: `holds ports already in use on the gateway: ${listed}` });
  }
  return problems;
}

/** Problems of the range on its own: two integers, inside 1-65535, start <= end. */
export function portRangeShapeProblems(range: unknown): PortRangeProblem[] {
  if (!Array.isArray(range) || range.length !== 2 || !range.every((n) => Number.isInteger(n))) {
    return [{ code: 'malformed', reason: `must be [start, end], two integers, got ${JSON.stringify(range)}` }];
  }
  const [start, end] = range as [number, number];
  const problems: PortRangeProblem[] = [];
  for (const p of [start, end]) {
    if (p < 1 || p > 65535) problems.push({ code: 'out-of-bounds', reason: `port ${p} is outside 1-65535` });
  }
  if (start > end) problems.push({ code: 'inverted', reason: `starts at ${start} but ends at ${end}, before it` });
  return problems;
}

/** Parses the content of /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999\n"). Throws when malformed. */
export function parseIpLocalPortRange(text: string): PortRange {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2]) : NaN;
  if (!(lo >= 1 && hi <= 65535 && lo <= hi)) throw new Error(`ip_local_port_range: cannot read ${JSON.stringify(text)}`);
  return [lo, hi];
}
