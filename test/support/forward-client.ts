/**
 * Client side of the static-forward tests, run inside the public namespace. Reads a JSON job on stdin, prints
 * JSON. The three cases of the convergent-gateway note (NOTES §7):
 *   {"op":"http","address":"100.64.1.130","port":8080,"path":"/x"}
 *     one HTTP GET; {ok, status, body} or {ok:false, error}
 *   {"op":"session","address":"100.64.1.130","port":2222,"exchanges":200}
 *     one long-lived TCP connection (SSH-like): `exchanges` lines, each answered before the next is sent;
 *     {ok, exchanges (answered), saw (the peer address the host reported)}
 *   {"op":"udp","address":"100.64.1.130","port":1123,"exchanges":20}
 *     one UDP socket (NTP-like): `exchanges` datagrams, each answered; every answer must come from the
 *     address and port the client sent to (the host answers from its port; the gateway un-NATs it);
 *     {ok, exchanges, from, saw}
 * Every wait is bounded by IO_TIMEOUT_MS: a forward that does not work shows as {ok:false, error:'timeout'}.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

const IO_TIMEOUT_MS = 3000;

interface Job {
  op: 'http' | 'session' | 'udp';
  address: string;
  port: number;
  path?: string;
  exchanges?: number;
}

function get(job: Job): Promise<object> {
  return new Promise((resolve) => {
    const req = http.get({ host: job.address, port: job.port, path: job.path ?? '/', timeout: IO_TIMEOUT_MS, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

function session(job: Job): Promise<object> {
  const want = job.exchanges ?? 100;
  return new Promise((resolve) => {
    const sock = net.connect({ host: job.address, port: job.port });
    let answered = 0;
    let saw: string | undefined;
    let buf = '';
    let timer = setTimeout(() => done('timeout'), IO_TIMEOUT_MS);
    const done = (error?: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(error ? { ok: false, error, exchanges: answered, saw } : { ok: true, exchanges: answered, saw });
    };
    const send = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done('timeout'), IO_TIMEOUT_MS);
      sock.write(`line ${answered}\n`);
    };
    sock.on('connect', send);
    sock.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        // "<name> saw <address>:<port> line <n>": the host echoes what it got, in order
        const m = /^\S+ saw (\S+):\d+ line (\d+)$/.exec(line);
        if (!m || Number(m[2]) !== answered) return done(`unexpected answer ${JSON.stringify(line)}`);
        saw = m[1];
        if (++answered === want) return done();
        send();
      }
    });
    sock.on('error', (e) => done((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

function udp(job: Job): Promise<object> {
  const want = job.exchanges ?? 10;
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    let answered = 0;
    let saw: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const done = (error?: string, from?: string) => {
      clearTimeout(timer);
      s.close();
      resolve(error ? { ok: false, error, exchanges: answered, from, saw } : { ok: true, exchanges: answered, from, saw });
    };
    const send = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done('timeout'), IO_TIMEOUT_MS);
      s.send(`tick ${answered}`, job.port, job.address);
    };
    s.on('message', (m, r) => {
      const from = `${r.address}:${r.port}`;
      if (r.address !== job.address || r.port !== job.port) return done('answer from another address or port', from);
      const match = /^\S+ saw (\S+):\d+ tick (\d+)$/.exec(m.toString().trim());
      if (!match || Number(match[2]) !== answered) return done(`unexpected answer ${JSON.stringify(m.toString())}`, from);
      saw = match[1];
      if (++answered === want) return done(undefined, from);
      send();
    });
    s.on('error', (e) => done(e.message));
    s.bind(0, send);
  });
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString()) as Job;
  const run = { http: get, session, udp }[job.op];
  if (!run) throw new Error(`unknown op ${job.op}`);
  process.stdout.write(JSON.stringify(await run(job)));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
