/**
 * Where a V8 CPU profile (`node --cpu-prof`, a .cpuprofile file) spends its time, as text: self time by
 * function and by file, and inclusive time of the functions under `focus` (e.g. '/src/'). Shares are of the
 * busy time (every sample but "(idle)"), so a server that waited between runs is not diluted.
 * Used by dns-bench.ts (`--profile DIR`, `--summarize FILE`).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SummaryOptions {
  top?: number;
  /** Substring of script URLs whose functions also get an inclusive-time list. */
  focus?: string;
  /**
   * Only samples taken in this window, in microseconds of the monotonic clock (`process.hrtime.bigint() / 1000n`
   * of any process on the machine: V8 stamps profiles with the same clock). Needs samples[] and timeDeltas[].
   */
  window?: { fromUs: number; toUs: number };
}

/** `file:///repo/dist/src/dns/x.js` -> `src/dns/x.ts`; node internals and natives keep their names. */
function shortFile(url: string): string {
  if (url === '') return '';
  const m = /\/dist\/((?:src|bench|test)\/.*)\.js$/.exec(url);
  if (m) return `${m[1]}.ts`;
  const nm = /node_modules\/(.*)$/.exec(url);
  if (nm) return nm[1];
  return url.replace(/^file:\/\//, '');
}

function label(cf: CallFrame): string {
  const name = cf.functionName || '(anonymous)';
  const file = shortFile(cf.url);
  return file ? `${name}  ${file}:${cf.lineNumber + 1} (js line)` : name;
}

const pct = (n: number, total: number) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;

export function summarizeProfile(profile: CpuProfile, opts: SummaryOptions = {}): string {
  const top = opts.top ?? 25;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Sample counts per node: from samples[] when present (exact), else hitCount.
  const hits = new Map<number, number>();
  const win = opts.window;
  let windowUs = 0;
  if (profile.samples && profile.samples.length) {
    const deltas = profile.timeDeltas ?? [];
    let t = profile.startTime;
    let first = Infinity;
    let last = -Infinity;
    profile.samples.forEach((id, i) => {
      t += deltas[i] ?? 0;
      if (win && (t < win.fromUs || t > win.toUs)) return;
      first = Math.min(first, t);
      last = Math.max(last, t);
      hits.set(id, (hits.get(id) ?? 0) + 1);
    });
    windowUs = last > first ? last - first : 0;
  } else {
    if (win) return 'cpu profile: has no sample timestamps, cannot cut out a window';
    for (const n of profile.nodes) if (n.hitCount) hits.set(n.id, n.hitCount);
  }
  let total = 0;
  let idle = 0;
  for (const [id, h] of hits) {
    total += h;
    if (byId.get(id)!.callFrame.functionName === '(idle)') idle += h;
  }
  const busy = total - idle;
  if (busy <= 0) return 'cpu profile: no busy samples';
  const spanUs = win ? windowUs : profile.endTime - profile.startTime;
  const msPerSample = spanUs / 1000 / Math.max(1, total);

  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, h] of hits) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const key = label(node.callFrame);
    selfByFn.set(key, (selfByFn.get(key) ?? 0) + h);
    const file = shortFile(node.callFrame.url) || node.callFrame.functionName;
    selfByFile.set(file, (selfByFile.get(file) ?? 0) + h);
    // Inclusive: every distinct function on the stack once (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (opts.focus && !cf.url.includes(opts.focus)) continue;
      const k = label(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + h);
    }
  }
  const list = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, h]) => `  ${pct(h, busy)}  ${(h * msPerSample).toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  const out = [
    `cpu profile${win ? ' (measured run only)' : ''}: ${(total * msPerSample / 1000).toFixed(1)} s sampled, busy ${(busy * msPerSample / 1000).toFixed(1)} s (${pct(busy, total).trim()}); shares below are of busy time`,
    '',
    'self time by function:',
    list(selfByFn, top),
    '',
    'self time by file:',
    list(selfByFile, Math.min(top, 15)),
  ];
  if (opts.focus) {
    out.push('', `inclusive time, functions in ${opts.focus}:`, list(inclusive, top));
  }
  return out.join('\n');
}
