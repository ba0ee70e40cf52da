/**
 * Starting and stopping the attackers of the attack suite inside a testbed namespace: the raw-socket spoofer
 * (spoof.py: spoofed DNS queries or SYNs) and the aggressive client (aggressive-client.ts). Both stop by
 * themselves after their count or time budget; stop() ends them early. Either way the result is the attacker's
 * own report (what it sent, at what rate).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NodeName, NsProcess, Testbed } from '../netns.js';
import { DIST_DIR, REPO_ROOT } from '../repo.js';
import { spoofArgs, type SpoofJob } from './plan.js';

export const SPOOF_PY = path.join(REPO_ROOT, 'test', 'support', 'attack', 'spoof.py');
const AGGRESSIVE_JS = path.join(DIST_DIR, 'test', 'support', 'attack', 'aggressive-client.js');
/** Debian's interpreter when present: a pyenv shim in front of it costs a shell per start. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface AttackReport {
  kind: string;
  sent: number;
  seconds: number;
  /** what the attacker achieved, per second */
  rate: number;
  [detail: string]: unknown;
}

export interface RunningAttack {
  readonly kind: string;
  /** resolves with the report once the attacker has ended, by itself or by stop() */
  readonly finished: Promise<AttackReport>;
  stop(): Promise<AttackReport>;
}

async function start(tb: Testbed, node: NodeName, kind: string, cmd: string, args: string[], budgetSeconds: number): Promise<RunningAttack> {
  const proc: NsProcess = tb.spawn(node, cmd, args);
  await proc.ready('sending', 10_000);
  const finished: Promise<AttackReport> = proc.exited.then(async (exit) => {
    const last = proc.stdout.trim().split('\n').pop() ?? '';
    try {
      return { ...(JSON.parse(last) as Omit<AttackReport, 'kind'>), kind } as AttackReport;
    } catch {
      throw new Error(`${kind} attacker ended (${JSON.stringify(exit)}) without a report:\n${proc.tail()}`);
    }
  });
  finished.catch(() => undefined); // reported to whoever awaits it
  // SIGTERM makes both attackers print their report and leave; the grace covers their 1.5 s drain.
  const stop = async () => {
    await proc.stop('SIGTERM', 5_000);
    return finished;
  };
  // A safety net for a caller that forgets stop(): the attacker's own budget ends it, this only reaps it.
  const net = setTimeout(() => void proc.stop('SIGKILL'), (budgetSeconds + 15) * 1000);
  net.unref();
  void proc.exited.then(() => clearTimeout(net));
  return { kind, finished, stop };
}

/** Spoofed DNS queries or SYNs from random sources, sent from `node` (rp_filter is 0 in the testbed). */
export function startSpoofer(tb: Testbed, node: NodeName, job: SpoofJob): Promise<RunningAttack> {
  return start(tb, node, job.kind === 'dns' ? 'spoofed-udp' : 'syn-flood', PYTHON, [SPOOF_PY, ...spoofArgs(job)], job.seconds);
}

export interface AggressiveJob {
  server: string;
  port?: number;
  /** the client's own (real, routed) address */
  bind?: string;
  names: string[];
  rate: number;
  count: number;
  seconds: number;
}

/** The one real client asking for service names at `rate`, over UDP, following TC to TCP, with cookies. */
export function startAggressiveClient(tb: Testbed, node: NodeName, job: AggressiveJob): Promise<RunningAttack> {
  return start(tb, node, 'aggressive-client', process.execPath, [AGGRESSIVE_JS, JSON.stringify(job)], job.seconds);
}
