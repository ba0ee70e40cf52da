/**
 * A DNS client that runs *inside* a test namespace (`ip netns exec NS node dns-probe.js`), since a test process
 * cannot enter a namespace itself. Reads a JSON list of steps on stdin, runs them in order, prints one JSON
 * array of results. Steps can do what dig cannot: raw bytes, byte-by-byte TCP writes, pipelining, idle waits.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface QuestionSpec {
  name: string;
  type: string;
  id?: number;
  /** EDNS UDP size; omitted = no OPT record. */
  edns?: number;
  /** Hex of a raw packet to send instead of a built query. */
  raw?: string;
}

export type Step =
  | ({ op: 'udp'; server: string; port?: number; timeoutMs?: number } & QuestionSpec)
  | { op: 'tcp'; server: string; port?: number; queries: QuestionSpec[]; byteByByte?: boolean; timeoutMs?: number }
  | { op: 'tcp-idle'; server: string; port?: number; waitMs: number };

export interface Answer {
  timeout?: boolean;
  closed?: boolean;
  bytes?: number;
  id?: number;
  rcode?: string;
  aa?: boolean;
  tc?: boolean;
  ra?: boolean;
  question?: string;
  answers?: { name: string; type: string; ttl: number; data: unknown }[];
  authorities?: { name: string; type: string; ttl: number }[];
  additionals?: { name: string; type: string; ttl?: number; data?: unknown }[];
}

export type StepResult = Answer | Answer[] | { closedAfterMs: number | null };

function build(q: QuestionSpec): Buffer {
  if (q.raw) return Buffer.from(q.raw, 'hex');
  return dnsPacket.encode({
    type: 'query',
    id: q.id ?? Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: q.name, type: q.type as dnsPacket.RecordType, class: 'IN' }],
    additionals: q.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: q.edns } as unknown as dnsPacket.Answer] : [],
  });
}

function summarize(buf: Buffer): Answer {
  const m = dnsPacket.decode(buf) as dnsPacket.DecodedPacket & { rcode: string };
  const data = (d: unknown) => (Array.isArray(d) ? d.map(String) : Buffer.isBuffer(d) ? d.toString() : d);
  return {
    bytes: buf.length,
    id: m.id,
    rcode: m.rcode,
    aa: m.flag_aa,
    tc: m.flag_tc,
    ra: m.flag_ra,
    question: m.questions?.[0]?.name,
    answers: (m.answers ?? []).map((a) => ({ name: a.name, type: a.type, ttl: (a as { ttl: number }).ttl, data: data((a as { data: unknown }).data) })),
    authorities: (m.authorities ?? []).map((a) => ({ name: a.name, type: a.type, ttl: (a as { ttl: number }).ttl })),
    additionals: (m.additionals ?? []).map((a) => ({ name: a.name, type: a.type, ttl: (a as { ttl?: number }).ttl, data: data((a as { data?: unknown }).data) })),
  };
}

function udp(step: Extract<Step, { op: 'udp' }>): Promise<Answer> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve({ timeout: true });
    }, step.timeoutMs ?? 1500);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      try {
        resolve(summarize(msg));
      } catch {
        resolve({ bytes: msg.length, rcode: 'UNDECODABLE' });
      }
    });
    s.send(build(step), step.port ?? 53, step.server);
  });
}

function tcp(step: Extract<Step, { op: 'tcp' }>): Promise<Answer[]> {
  return new Promise((resolve) => {
    const out: Answer[] = [];
    const sock = net.connect({ host: step.server, port: step.port ?? 53 });
    let buf = Buffer.alloc(0);
    const finish = (extra?: Answer) => {
      clearTimeout(timer);
      sock.destroy();
      if (extra) out.push(extra);
      resolve(out);
    };
    const timer = setTimeout(() => finish({ timeout: true }), step.timeoutMs ?? 3000);
    sock.on('error', () => finish({ closed: true }));
    sock.on('close', () => finish(out.length < step.queries.length ? { closed: true } : undefined));
    sock.on('connect', async () => {
      const frames = Buffer.concat(
        step.queries.map((q) => {
          const m = build(q);
          const len = Buffer.alloc(2);
          len.writeUInt16BE(m.length);
          return Buffer.concat([len, m]);
        }),
      );
      if (!step.byteByByte) {
        sock.write(frames);
        return;
      }
      for (const b of frames) {
        sock.write(Buffer.from([b]));
        await new Promise((r) => setTimeout(r, 2)); // separate segments, so the server sees partial reads
      }
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        out.push(summarize(buf.subarray(2, 2 + len)));
        buf = buf.subarray(2 + len);
      }
      if (out.length === step.queries.length) finish();
    });
  });
}

function tcpIdle(step: Extract<Step, { op: 'tcp-idle' }>): Promise<{ closedAfterMs: number | null }> {
  return new Promise((resolve) => {
    const start = Date.now();
    const sock = net.connect({ host: step.server, port: step.port ?? 53 });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closedAfterMs: null });
    }, step.waitMs);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - start });
    });
    sock.on('error', () => undefined);
  });
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const steps = JSON.parse(Buffer.concat(chunks).toString()) as Step[];
  const results: StepResult[] = [];
  for (const step of steps) {
    if (step.op === 'udp') results.push(await udp(step));
    else if (step.op === 'tcp') results.push(await tcp(step));
    else results.push(await tcpIdle(step));
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
