/**
 * The legitimate workload of the attack suite, run inside the public namespace: applications behind a
 * recursive resolver (Debian's Unbound) resolving service names and talking to the hosts. Reads a JSON job on
 * stdin, prints one JSON summary on stdout:
 *
 *   {"resolver":{"server":"100.64.0.100","port":53},"mix":[{"name":"tcp.hosta.gwa.demo","proto":"tcp","port":5000}],
 *    "count":100,"rate":10,"concurrency":16,"attempts":2}
 *
 * One flow = a stub resolution (UDP to the resolver, RD set; silence or SERVFAIL -> one more try, as glibc's
 * stub does) and one exchange with the answer (TCP connect + line + reply, or a UDP datagram + reply). A failed
 * flow is tried again from the resolution up to `attempts` times, as an application would. `count` flows start
 * on an open-loop schedule at `rate` per second (at most `concurrency` at once); the run is bounded by count and
 * by the per-flow timeouts of plan.ts. Output: FlowSummary plus the run's seconds and the first failures.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { failureReason, FLOW_TIMEOUT_MS, summariseFlows, type LegitFlowResult } from './plan.js';

export interface LegitFlow {
  name: string;
  proto: 'tcp' | 'udp';
  port: number;
}
export interface LegitJob {
  resolver: { server: string; port?: number };
  mix: LegitFlow[];
  count: number;
  rate: number;
  concurrency?: number;
  attempts?: number;
}

type Step<T> = { ok: true; value: T } | { ok: false; code: string };

function stubTry(resolver: LegitJob['resolver'], name: string): Promise<Step<string>> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const done = (r: Step<string>) => {
      clearTimeout(timer);
      s.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'timeout' }), FLOW_TIMEOUT_MS.stubTry);
    s.on('error', (e) => done({ ok: false, code: (e as NodeJS.ErrnoException).code ?? 'error' }));
    s.on('message', (m) => {
      let p: dnsPacket.Packet;
      try {
        p = dnsPacket.decode(m);
      } catch {
        return; // not a DNS message: keep waiting for the real answer
      }
      if (p.id !== id) return;
      const a = p.answers?.find((x) => x.type === 'A') as dnsPacket.StringAnswer | undefined;
      if (a) return done({ ok: true, value: a.data });
      const rcode = (p as { rcode?: string }).rcode; // decoded by dns-packet, missing from its types
      done({ ok: false, code: rcode && rcode !== 'NOERROR' ? rcode : 'noaddress' });
    });
    s.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] }), resolver.port ?? 53, resolver.server);
  });
}

async function stubResolve(resolver: LegitJob['resolver'], name: string): Promise<Step<string>> {
  let last: Step<string> = { ok: false, code: 'timeout' };
  for (let i = 0; i < FLOW_TIMEOUT_MS.stubTries; i++) {
    last = await stubTry(resolver, name);
    if (last.ok || last.code === 'NXDOMAIN') return last;
  }
  return last;
}

function exchange(address: string, f: LegitFlow, payload: string): Promise<Step<string>> {
  return new Promise((resolve) => {
    if (f.proto === 'udp') {
      const s = dgram.createSocket('udp4');
      const done = (r: Step<string>) => {
        clearTimeout(timer);
        s.close();
        resolve(r);
      };
      const timer = setTimeout(() => done({ ok: false, code: 'timeout' }), FLOW_TIMEOUT_MS.io);
      s.on('message', (m) => done({ ok: true, value: m.toString().trim() }));
      s.on('error', (e) => done({ ok: false, code: (e as NodeJS.ErrnoException).code ?? 'error' }));
      s.send(payload, f.port, address);
      return;
    }
    let reply = '';
    const sock = net.connect({ host: address, port: f.port });
    const done = (r: Step<string>) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'timeout' }), FLOW_TIMEOUT_MS.io);
    sock.on('connect', () => sock.write(payload + '\n'));
    sock.on('data', (d) => (reply += d.toString()));
    sock.on('end', () => done(reply ? { ok: true, value: reply.trim() } : { ok: false, code: 'closed' }));
    sock.on('error', (e) => done({ ok: false, code: (e as NodeJS.ErrnoException).code ?? 'error' }));
  });
}

async function oneFlow(job: LegitJob, f: LegitFlow, n: number): Promise<LegitFlowResult & { name: string }> {
  const attempts = job.attempts ?? 1;
  let reason = 'unknown';
  for (let a = 1; a <= attempts; a++) {
    const dns = await stubResolve(job.resolver, f.name);
    if (!dns.ok) {
      reason = failureReason('dns', dns.code);
      continue;
    }
    const payload = `flow-${n}`;
    const r = await exchange(dns.value, f, payload);
    // The host echoes the payload: a reply proves the flow reached the right host through the gateway.
    if (r.ok && r.value.endsWith(payload)) return { ok: true, attempts: a, name: f.name };
    reason = r.ok ? failureReason(f.proto, 'wrong-reply') : failureReason(f.proto, r.code);
  }
  return { ok: false, attempts, reason, name: f.name };
}

async function runLegitLoad(job: LegitJob) {
  const concurrency = job.concurrency ?? 16;
  const results: (LegitFlowResult & { name: string })[] = [];
  let started = 0;
  let inFlight = 0;
  const t0 = performance.now();
  await new Promise<void>((resolveAll) => {
    const tick = () => {
      const due = Math.min(job.count, Math.floor(((performance.now() - t0) / 1000) * job.rate) + 1);
      while (started < due && inFlight < concurrency) {
        const f = job.mix[started % job.mix.length];
        const n = started++;
        inFlight++;
        void oneFlow(job, f, n).then((r) => {
          inFlight--;
          results.push(r);
          if (results.length === job.count) resolveAll();
        });
      }
      if (started < job.count) setTimeout(tick, 5);
    };
    tick();
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    ...summariseFlows(results),
    seconds: Number(seconds.toFixed(2)),
    firstFailures: results.filter((r) => !r.ok).slice(0, 5),
  };
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString()) as LegitJob;
  if (!Array.isArray(job.mix) || !job.mix.length || !(job.count > 0) || !(job.rate > 0)) throw new Error('legit-load: job needs mix, count > 0 and rate > 0');
  process.stdout.write(JSON.stringify(await runLegitLoad(job)));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
