/**
 * Client side of the proxy tests, run inside the public namespace. Reads a JSON job on stdin, prints JSON.
 *   {"op":"http","address":"100.64.1.130","port":80,"host":"www.hosta.gwa.demo","path":"/x"}
 *   {"op":"tls","address":"100.64.1.130","port":443,"servername":"www.hostb.gwa.demo","path":"/y"}
 * -> {ok, status, body} or {ok:false, error, alert?} (alert: the TLS alert number the server sent). Every wait
 * is bounded.
 */
import http from 'node:http';
import https from 'node:https';

const TIMEOUT_MS = 5000;

interface Job {
  op: 'http' | 'tls';
  address: string;
  port: number;
  host?: string;
  servername?: string;
  path?: string;
}

function request(job: Job): Promise<object> {
  return new Promise((resolve) => {
    const common = { host: job.address, port: job.port, path: job.path ?? '/', timeout: TIMEOUT_MS, agent: false as const };
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body: body.trim() }));
    };
    const req =
      job.op === 'http'
        ? http.get({ ...common, headers: { host: job.host } }, onResponse)
        : // the test's certificate is self-signed: what is proven is that the host's own handshake came through
          https.get({ ...common, servername: job.servername, headers: { host: job.servername }, rejectUnauthorized: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => {
      const alert = /alert number (\d+)/.exec(e.message)?.[1];
      resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message, ...(alert ? { alert: Number(alert) } : {}) });
    });
  });
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  process.stdout.write(JSON.stringify(await request(JSON.parse(Buffer.concat(chunks).toString()) as Job)));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
