// promtool (Prometheus' linter) for the tests that check a real scrape: the one install-deps.sh unpacks into
// .runtime/promtool/, else one on PATH. Tests skip, saying so, only when neither exists.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.js';

export const PROMTOOL_MISSING = 'promtool is missing (orchestration/install-deps.sh unpacks it into .runtime/promtool/ as root)';

export function findPromtool(): string | undefined {
  const local = join(REPO_ROOT, '.runtime', 'promtool', 'promtool');
  if (existsSync(local)) return local;
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0 ? 'promtool' : undefined;
}

/** `promtool check metrics` on a scrape: its exit status and every complaint it printed. */
export function checkMetrics(promtool: string, scrape: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, output }));
    p.stdin.end(scrape);
  });
}
