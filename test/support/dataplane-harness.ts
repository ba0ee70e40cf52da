/**
 * The pool and the data plane without DNS, run inside the gateway's namespace, driven by JSON lines on stdin:
 * reservations the DNS front cannot make yet (bound to a client subnet) and the counters, for kernel tests.
 *
 *   node dataplane-harness.js --config gateway.yaml
 *   -> {"op":"ready"}
 *   <- {"op":"reserve","host":"hosta.gwa.demo","protocol":6,"port":5000,"source":"100.64.0.100/32","lifetimeMs":5000}
 *   -> {"op":"reserved","address":"100.64.1.131","id":1}      (or {"op":"error","message":...})
 *   <- {"op":"stats"}
 *   -> {"op":"stats","dataplane":{...},"pool":{...},"live":[{"address":...,"protocol":...,"port":...}]}
 * SIGTERM stops the data plane (its kernel state is removed) and exits.
 */
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import { compile } from '../../src/compile/compile.js';
import { createLogger } from '../../src/log.js';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { formatIpv4, parseIpv4 } from '../../src/util/ipv4.js';

const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const at = process.argv.indexOf('--config');
  if (at < 0) throw new Error('usage: dataplane-harness --config FILE');
  const compiled = compile(process.argv[at + 1]!);
  if (!compiled.kernel) throw new Error('the config has no dataplane section');
  const now = () => performance.now();
  const pool = new CircularPool({ addresses: compiled.config.poolAddresses, lifetimeMs: compiled.config.pool.lifetimeMs });
  const dp = new Dataplane(compiled.kernel, pool, now, createLogger('warn', false));
  await dp.start();
  const expiry = setInterval(() => pool.expire(now()), 100);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(expiry);
    await dp.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    void handle(JSON.parse(line)).catch((err: unknown) => out({ op: 'error', message: err instanceof Error ? err.message : String(err) }));
  });
  const handle = async (cmd: { op: string; host?: string; protocol?: number; port?: number; source?: string; lifetimeMs?: number }) => {
    if (cmd.op === 'reserve') {
      const host = compiled.policies.hosts.get(cmd.host!);
      if (!host) throw new Error(`no host ${cmd.host}`);
      let source: { network: number; prefixLength: number } | undefined;
      if (cmd.source) {
        const [a, len] = cmd.source.split('/');
        source = { network: parseIpv4(a!), prefixLength: Number(len) };
      }
      const r = pool.reserve({ key: { protocol: cmd.protocol!, port: cmd.port! }, hostId: cmd.host!, target: parseIpv4(host.ipv4), service: cmd.host!, lifetimeMs: cmd.lifetimeMs, source }, now());
      if (!r.ok) throw new Error(r.reason);
      await dp.reserve?.(r.reservation);
      out({ op: 'reserved', address: formatIpv4(r.reservation.address), id: r.reservation.id });
    } else if (cmd.op === 'stats') {
      await dp.refreshKernelCounters();
      out({ op: 'stats', dataplane: dp.stats, pool: pool.stats, live: pool.live().map((r) => ({ address: formatIpv4(r.address), ...r.key })) });
    } else throw new Error(`unknown op ${cmd.op}`);
  };
  out({ op: 'ready' });
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
