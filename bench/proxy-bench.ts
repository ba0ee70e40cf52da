/**
 * The relay part of `npm run bench` (issue 10; called by dns-bench.ts; row proxy): HTTP requests per second
 * and latency through the proxy_required relay (gwa 100.64.1.130:80, routed by Host to hosta:80) against the
 * same requests to the same server through a static forward (kernel DNAT, 100.64.1.130:8081 -> hosta:80) from
 * the same client in the same run, alternating rounds; medians. Each request is a new TCP connection (the
 * relay routes per connection, so that is what it costs), closed loop with BENCH_PROXY_CONCURRENCY (8) at once
 * for BENCH_PROXY_SECONDS (3) per round, BENCH_PROXY_ROUNDS (3) rounds of each.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startGateway } from '../test/support/gateway.js';
import { ADDR, Testbed } from '../test/support/netns.js';
import { makeTempDir, REPO_ROOT } from '../test/support/repo.js';
import type { Row } from './flows-bench.js';

export const PROXY_MEASUREMENTS = ['proxy'] as const;
export const PROXY_HEADER = ['| measurement | result | direct (kernel DNAT) / added | target | verdict | failures |', '|---|---:|---:|---:|---|---:|'];

interface Load {
  requests: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  firstError?: string;
}

const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const LOAD = path.join(REPO_ROOT, 'dist', 'bench', 'proxy-load.js');

function say(message: string): void {
  process.stderr.write(`proxy-bench: ${message}\n`);
}

const int = (name: string, def: number, min: number, max: number) => {
  const raw = process.env[name];
  const x = raw === undefined || raw === '' ? def : Number(raw);
  if (!Number.isInteger(x) || x < min || x > max) throw new Error(`${name} must be an integer in ${min}..${max}, not ${raw}`);
  return x;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export async function benchProxy(): Promise<{ rows: Row[]; notes: string[]; failed: boolean }> {
  const seconds = int('BENCH_PROXY_SECONDS', 3, 1, 60);
  const rounds = int('BENCH_PROXY_ROUNDS', 3, 1, 20);
  const concurrency = int('BENCH_PROXY_CONCURRENCY', 8, 1, 256);
  const tb = await Testbed.up();
  try {
    const policies = await makeTempDir('bench-proxy-policies');
    await cp(path.join(REPO_ROOT, 'policies', 'gwa.demo'), policies, { recursive: true });
    const file = path.join(policies, 'hosta.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/('www\.hosta\.gwa\.demo\.', proxy_required: )false/, '$1true'));
    const certDir = await makeTempDir('bench-proxy-cert');
    const key = path.join(certDir, 'key.pem');
    const cert = path.join(certDir, 'cert.pem');
    await tb.exec('gwa', 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=www.hosta.gwa.demo'], { check: true });
    const server = tb.spawn('hosta', process.execPath, [path.join(SUPPORT, 'web-server.js'), '--name', 'hosta', '--key', key, '--cert', cert]);
    await server.ready('listening');
    await startGateway(tb, {
      pbra: null,
      policies,
      proxy: { http: 80, tls: 443 },
      forwards: { rules: [{ name: 'direct', protocol: 'tcp', port: 8081, to: { address: ADDR.hosta, port: 80 } }] },
    });
    const run = async (port: number): Promise<Load> => {
      const job = { address: ADDR.gwaWan, port, host: 'www.hosta.gwa.demo', seconds, concurrency };
      const r = await tb.exec('public', process.execPath, [LOAD], { input: JSON.stringify(job), timeoutMs: (seconds + 30) * 1000, check: true });
      return JSON.parse(r.stdout) as Load;
    };
    const direct: Load[] = [];
    const relayed: Load[] = [];
    await run(80); // warm-up: JIT, ARP, the relay's first connections
    for (let i = 0; i < rounds; i++) {
      direct.push(await run(8081));
      relayed.push(await run(80));
      say(`round ${i + 1}: direct ${fmt(direct[i].requests / direct[i].seconds)}/s, relay ${fmt(relayed[i].requests / relayed[i].seconds)}/s`);
    }
    const rate = (ls: Load[]) => median(ls.map((l) => l.requests / l.seconds));
    const p50 = (ls: Load[]) => median(ls.map((l) => l.p50Ms));
    const p99 = (ls: Load[]) => median(ls.map((l) => l.p99Ms));
    const errors = [...direct, ...relayed].reduce((a, l) => a + l.errors, 0);
    const firstError = [...direct, ...relayed].find((l) => l.firstError)?.firstError;
    const row: Row = {
      measurement: 'HTTP requests/s through the proxy_required relay (a new connection each)',
      value: `${fmt(rate(relayed))}/s, p50 ${p50(relayed).toFixed(2)} ms, p99 ${p99(relayed).toFixed(2)} ms`,
      ratio: `${fmt(rate(direct))}/s, p50 ${p50(direct).toFixed(2)} ms; ratio ${(rate(relayed) / rate(direct)).toFixed(2)}, +${(p50(relayed) - p50(direct)).toFixed(2)} ms p50`,
      target: 'context',
      verdict: errors ? 'ERRORS' : 'ok',
      lost: `${errors}${firstError ? ` (${firstError})` : ''}`,
      notes: [],
    };
    const notes = [
      `proxy: ${rounds} alternating rounds of ${seconds} s each way (after one warm-up round), ${concurrency} requests at once from rgw-public, each on a new TCP connection; direct = a static forward (kernel DNAT) to the same server; medians of the rounds`,
    ];
    return { rows: [row], notes, failed: errors > 0 };
  } finally {
    await tb.down();
  }
}
