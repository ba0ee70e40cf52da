/**
 * Load client of the relay bench (bench/proxy-bench.ts), run inside the public namespace: closed loop, each
 * request on a new TCP connection (the relay routes per connection), `concurrency` at once, for `seconds`.
 * Reads a JSON job on stdin, prints JSON: {requests, errors, seconds, p50Ms, p99Ms, firstError?}.
 *   {"address":"100.64.1.130","port":80,"host":"www.hosta.gwa.demo","seconds":3,"concurrency":8}
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

interface Job {
  address: string;
  port: number;
  host: string;
  seconds: number;
  concurrency: number;
}

const TIMEOUT_MS = 5000;

function once(job: Job): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: job.address, port: job.port, path: '/', headers: { host: job.host }, agent: false, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - start) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString()) as Job;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const end = start + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end) {
        try {
          latencies.push(await once(job));
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  process.stdout.write(JSON.stringify({ requests: latencies.length, errors, seconds, p50Ms: at(0.5), p99Ms: at(0.99), ...(firstError ? { firstError } : {}) }));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
