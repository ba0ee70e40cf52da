/**
 * Client side of data-plane tests, run inside the public namespace. Reads a JSON job on stdin, prints JSON.
 *
 *   {"op":"flows","dns":{"server":"100.64.1.130","port":53},"flows":[{"name":"tcp.hosta.gwa.demo","proto":"tcp","port":5000}, ...]}
 *     one flow each, in order: resolve (A, with resolver-style retries), then talk to the answer.
 *   {"op":"load","dns":{...},"mix":[...flows],"count":2000,"rate":250,"concurrency":16,"attempts":1}
 *     `count` flows drawn round-robin from `mix`, started at `rate` per second; reports successes and timing.
 *     attempts > 1: a failed flow resolves and tries again, as an application behind a resolver would.
 *   {"op":"connect","address":"100.64.1.131","proto":"tcp","port":23}
 *     talk to an address without a query (expects refusal).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';

export interface Flow {
  name: string;
  proto: 'tcp' | 'udp' | 'icmp';
  port?: number;
}
export interface FlowResult {
  name?: string;
  address?: string;
  ok: boolean;
  reply?: string;
  error?: string;
  dnsTries?: number;
  ms?: number;
}
interface DnsServer {
  server: string;
  port?: number;
}

const DNS_TIMEOUT_MS = 300;
const DNS_TRIES = 12;
const IO_TIMEOUT_MS = 2000;

const firstA = (m: Buffer) => (dnsPacket.decode(m).answers?.find((x) => x.type === 'A') as dnsPacket.StringAnswer | undefined)?.data;

/** One query over TCP, as a stub does after a truncated (TC=1) UDP answer. */
function resolveTcp(dns: DnsServer, name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 65536);
    const q = dnsPacket.streamEncode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] });
    const s = net.connect({ host: dns.server, port: dns.port ?? 53 }, () => s.end(q));
    let got = Buffer.alloc(0);
    const done = (v?: string) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(undefined), IO_TIMEOUT_MS);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        try {
          done(firstA(got.subarray(2, 2 + got.readUInt16BE(0))));
        } catch {
          done(undefined);
        }
      }
    });
    s.on('error', () => done(undefined));
    s.on('close', () => done(undefined));
  });
}

function resolveOnce(dns: DnsServer, name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const done = (v?: string) => {
      clearTimeout(t);
      s.close();
      resolve(v);
    };
    const t = setTimeout(() => done(undefined), DNS_TIMEOUT_MS);
    s.on('message', (m) => {
      try {
        const p = dnsPacket.decode(m);
        if (p.id !== id) return;
        if (p.flag_tc) {
          // The gateway wants proof of our address before it spends a pool address on us: come back over TCP.
          clearTimeout(t);
          s.close();
          resolveTcp(dns, name).then(resolve, () => resolve(undefined));
          return;
        }
        done(firstA(m));
      } catch {
        done(undefined);
      }
    });
    s.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] }), dns.port ?? 53, dns.server);
  });
}

/** Like a stub resolver: retry on silence (an exhausted pool answers nothing over UDP). */
async function resolve(dns: DnsServer, name: string): Promise<{ address?: string; tries: number }> {
  for (let tries = 1; tries <= DNS_TRIES; tries++) {
    const address = await resolveOnce(dns, name);
    if (address) return { address, tries };
  }
  return { tries: DNS_TRIES };
}

export function talk(address: string, proto: 'tcp' | 'udp' | 'icmp', port = 0, payload = 'hello'): Promise<{ ok: boolean; reply?: string; error?: string }> {
  if (proto === 'icmp') {
    return new Promise((resolve) =>
      execFile('ping', ['-c', '1', '-W', '2', address], (err, stdout) =>
        resolve(err ? { ok: false, error: stdout.split('\n').slice(-3).join(' ').trim() || String(err) } : { ok: true, reply: 'pong' }),
      ),
    );
  }
  if (proto === 'udp') {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      const done = (r: { ok: boolean; reply?: string; error?: string }) => {
        clearTimeout(t);
        s.close();
        resolve(r);
      };
      const t = setTimeout(() => done({ ok: false, error: 'timeout' }), IO_TIMEOUT_MS);
      s.on('message', (m) => done({ ok: true, reply: m.toString().trim() }));
      s.on('error', (e) => done({ ok: false, error: e.message }));
      s.send(payload, port, address);
    });
  }
  return new Promise((resolve) => {
    let reply = '';
    const sock = net.connect({ host: address, port });
    const done = (r: { ok: boolean; reply?: string; error?: string }) => {
      clearTimeout(t);
      sock.destroy();
      resolve(r);
    };
    const t = setTimeout(() => done({ ok: false, error: 'timeout' }), IO_TIMEOUT_MS);
    sock.on('connect', () => sock.write(payload + '\n'));
    sock.on('data', (d) => (reply += d.toString()));
    sock.on('end', () => done({ ok: reply.length > 0, reply: reply.trim(), error: reply ? undefined : 'closed without reply' }));
    sock.on('error', (e) => done({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

async function flow(dns: DnsServer, f: Flow, payload: string): Promise<FlowResult> {
  const start = performance.now();
  const { address, tries } = await resolve(dns, f.name);
  if (!address) return { name: f.name, ok: false, error: 'no DNS answer', dnsTries: tries };
  const r = await talk(address, f.proto, f.port, payload);
  return { name: f.name, address, dnsTries: tries, ms: Math.round(performance.now() - start), ...r };
}

async function load(dns: DnsServer, mix: Flow[], count: number, rate: number, concurrency: number, attempts = 1) {
  let flowRetries = 0;
  const attempt = async (f: Flow, payload: string): Promise<FlowResult> => {
    let r = await flow(dns, f, payload);
    for (let a = 1; a < attempts && !r.ok; a++) {
      flowRetries++;
      r = await flow(dns, f, payload);
    }
    return r;
  };
  const results: FlowResult[] = [];
  let started = 0;
  let inFlight = 0;
  const t0 = performance.now();
  await new Promise<void>((resolveAll) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (started < due && inFlight < concurrency) {
        const f = mix[started % mix.length];
        const n = started++;
        inFlight++;
        void attempt(f, `flow-${n}`).then((r) => {
          inFlight--;
          results.push(r);
          if (results.length === count) resolveAll();
        });
      }
      if (started < count) setTimeout(tick, 1);
    };
    tick();
  });
  const seconds = (performance.now() - t0) / 1000;
  const failures = results.filter((r) => !r.ok);
  return {
    count,
    ok: results.length - failures.length,
    seconds: Number(seconds.toFixed(2)),
    flowsPerSecond: Math.round(count / seconds),
    dnsRetries: results.reduce((n, r) => n + (r.dnsTries ?? 1) - 1, 0),
    flowRetries,
    failures: failures.slice(0, 10),
  };
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString());
  let out: unknown;
  if (job.op === 'flows') {
    const results: FlowResult[] = [];
    for (const f of job.flows as Flow[]) results.push(await flow(job.dns, f, job.payload ?? 'hello'));
    out = results;
  } else if (job.op === 'load') {
    out = await load(job.dns, job.mix, job.count, job.rate, job.concurrency ?? 16, job.attempts ?? 1);
  } else if (job.op === 'connect') {
    out = await talk(job.address, job.proto, job.port, job.payload ?? 'hello');
  } else throw new Error(`unknown op ${job.op}`);
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
