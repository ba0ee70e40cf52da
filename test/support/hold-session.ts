// A long-lived TCP connection from a testbed node (hold-client.js), for tests that check that an established
// flow survives what the gateway goes through (a crash, a restart, a reload).
import path from 'node:path';
import type { NodeName, NsProcess, Testbed } from './netns.js';
import { REPO_ROOT } from './repo.js';

export interface HoldSession {
  proc: NsProcess;
  /** Sends a line and resolves with the reply line that echoes it. */
  say(text: string): Promise<string>;
}

export async function holdSession(tb: Testbed, node: NodeName, address: string, port: number): Promise<HoldSession> {
  const proc = tb.spawn(node, process.execPath, [path.join(REPO_ROOT, 'dist', 'test', 'support', 'hold-client.js'), address, String(port)], { stdin: 'pipe' });
  await proc.ready('connected');
  const say = async (text: string) => {
    const from = proc.lineCount;
    proc.child.stdin!.write(text + '\n');
    return proc.ready(new RegExp(`reply .* ${text}$`), 5000, { fromLine: from });
  };
  return { proc, say };
}
