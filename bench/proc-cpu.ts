/**
 * CPU use of named processes (and of the machine) over a window, from /proc, for the data-plane benchmark.
 * Network namespaces do not hide pids: processes started with `ip netns exec` are read like any other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** utime + stime of a process (all its threads), in clock ticks; undefined once it is gone. */
export function processTicks(pid: number): { user: number; sys: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]), sys: Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** The command name (comm) of a process. */
export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Every live descendant of `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parent.get(ppid) ?? [];
      list.push(Number(d));
      parent.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Machine-wide ticks by kind (first line of /proc/stat) and processes created since boot. */
function machineTicks(): { user: number; system: number; softirq: number; irq: number; idle: number; total: number; forks: number } {
  const text = readFileSync('/proc/stat', 'utf8');
  const v = text.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq] = v;
  const forks = Number(/^processes (\d+)/m.exec(text)?.[1] ?? 0);
  return { user: user + nice, system, softirq, irq, idle: idle + (iowait ?? 0), total: v.slice(0, 8).reduce((a, b) => a + (b ?? 0), 0), forks };
}

export interface CpuSample {
  /** % of one core per label (user + kernel time of the process), busiest first */
  processes: { label: string; pct: number; sysPct: number }[];
  /** the whole machine, % of one core each: user, system (process context), softirq (packet processing), idle */
  machine: { user: number; system: number; softirq: number; irq: number; idle: number; cores: number; forksPerS: number };
}

/** Starts measuring; the returned function ends the window and reports. */
export function cpuMeter(procs: { label: string; pid: number }[]): () => CpuSample {
  const p0 = procs.map((p) => processTicks(p.pid));
  const m0 = machineTicks();
  return () => {
    const m1 = machineTicks();
    const cores = os.cpus().length;
    const elapsed = (m1.total - m0.total) / cores; // ticks of wall time
    const pct = (t: number) => (elapsed > 0 ? (100 * t) / elapsed : 0);
    const processes = procs
      .map((p, i) => {
        const a = p0[i];
        const b = processTicks(p.pid) ?? a;
        if (!a || !b) return { label: p.label, pct: 0, sysPct: 0 };
        return { label: p.label, pct: pct(b.user + b.sys - a.user - a.sys), sysPct: pct(b.sys - a.sys) };
      })
      .sort((x, y) => y.pct - x.pct);
    return {
      processes,
      machine: {
        user: pct(m1.user - m0.user),
        system: pct(m1.system - m0.system),
        softirq: pct(m1.softirq - m0.softirq),
        irq: pct(m1.irq - m0.irq),
        idle: pct(m1.idle - m0.idle),
        cores,
        forksPerS: elapsed > 0 ? ((m1.forks - m0.forks) * 100) / elapsed : 0, // ticks are USER_HZ = 100 per second
      },
    };
  };
}

export function formatCpu(c: CpuSample): string {
  const m = c.machine;
  const procs = c.processes
    .filter((p) => p.pct >= 0.5)
    .map((p) => `${p.label} ${p.pct.toFixed(0)}%${p.sysPct >= 1 ? ` (${p.sysPct.toFixed(0)}% kernel)` : ''}`)
    .join(', ');
  const others = Math.max(0, m.user + m.system - c.processes.reduce((a, p) => a + p.pct, 0));
  return (
    `${procs || 'no process above 0.5%'}; machine (${m.cores * 100}%): user ${m.user.toFixed(0)}%, system ${m.system.toFixed(0)}%, softirq ${m.softirq.toFixed(0)}%, idle ${m.idle.toFixed(0)}%; ` +
    `processes not listed (anything else on the machine) ~${others.toFixed(0)}%`
  );
}
