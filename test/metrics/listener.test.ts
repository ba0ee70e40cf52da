// The metrics listener (TCP) and the admin socket serve the same /metrics, /healthz and /readyz; the listener
// serves nothing else, GET and HEAD only, and holds at most maxConnections.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { AdminServer } from '../../src/admin/admin-server.js';
import { MetricsListener } from '../../src/metrics/listener.js';
import { MetricsEndpoint } from '../../src/metrics/metrics-endpoint.js';
import { RealmgwError } from '../../src/errors/realmgw-error.js';
import { makeTempDir } from '../support/repo.js';
import { until } from '../support/until.js';
import { fakeSources } from './fake-sources.js';

const log = pino({ level: 'silent' });

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

function request(target: { port: number } | { socketPath: string }, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...('port' in target ? { host: '127.0.0.1', port: target.port } : target), path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listener(t: TestContext, maxConnections?: number, headersTimeoutMs?: number) {
  const { sources, fakes } = fakeSources();
  const l = new MetricsListener({ address: '127.0.0.1', port: 0, routes: new MetricsEndpoint(sources).routes(), log, maxConnections, headersTimeoutMs });
  const { port } = await l.start();
  t.after(() => l.stop());
  return { port, fakes };
}

describe('metrics listener', () => {
  it('serves /metrics in the Prometheus text format, /healthz, and /readyz by readiness', async (t) => {
    const { port, fakes } = await listener(t);
    fakes.wan.queriesUdp = 3;
    const m = await request({ port }, '/metrics');
    assert.equal(m.status, 200);
    assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(m.body, /^realmgw_dns_queries_total\{view="wan",transport="udp"\} 3$/m);
    assert.deepEqual(await request({ port }, '/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
    const notReady = await request({ port }, '/readyz');
    assert.deepEqual({ status: notReady.status, body: notReady.body }, { status: 503, body: 'not ready\n[+]started: started\n[-]dns: not listening yet\n' });
    fakes.ready = true;
    const ready = await request({ port }, '/readyz?verbose');
    assert.deepEqual({ status: ready.status, body: ready.body }, { status: 200, body: 'ready\n[+]started: started\n[+]dns: listening\n' });
  });

  it('serves nothing else: the admin routes are 404, other methods 405', async (t) => {
    const { port } = await listener(t);
    for (const path of ['/stats', '/reservations', '/workers', '/', '/metrics/', '/constructor', '/__proto__']) {
      assert.equal((await request({ port }, path)).status, 404, path);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await request({ port }, '/metrics', method);
      assert.equal(r.status, 405, method);
    }
    const head = await request({ port }, '/healthz', 'HEAD');
    assert.deepEqual({ status: head.status, body: head.body }, { status: 200, body: '' });
  });

  it('holds at most maxConnections: one more is closed at accept, and served once a slot is free', async (t) => {
    const { port } = await listener(t, 1);
    const idle = net.connect(port, '127.0.0.1');
    await once(idle, 'connect');
    // an HTTP request on the first connection proves the server has accepted it before the second arrives
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(idle, 'data');
    await assert.rejects(request({ port }, '/healthz'), /ECONNRESET|socket hang up/);
    idle.destroy();
    await once(idle, 'close');
    let served: Reply | undefined;
    // the server learns of the close asynchronously: wait until the slot is free
    await until('a freed slot serves /healthz', async () => (served = await request({ port }, '/healthz').catch(() => undefined)) !== undefined);
    assert.equal(served!.status, 200);
  });

  it('a request head that never ends is cut off (closed unanswered), freeing its slot', async (t) => {
    const { port } = await listener(t, 1, 200);
    const slow = net.connect(port, '127.0.0.1');
    let got = '';
    slow.on('data', (d: Buffer) => (got += d.toString()));
    await once(slow, 'connect');
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    await once(slow, 'close');
    assert.equal(got, '', 'closed, nothing written to a peer that may be hostile');
    assert.equal((await request({ port }, '/healthz')).status, 200);
  });

  it('a port already taken is RGW_METRICS_LISTEN, naming address and reason', async (t) => {
    const { port } = await listener(t);
    const second = new MetricsListener({ address: '127.0.0.1', port, routes: new MetricsEndpoint(fakeSources().sources).routes(), log });
    await assert.rejects(second.start(), (err: unknown) => {
      assert.ok(err instanceof RealmgwError);
      assert.equal(err.code, 'RGW_METRICS_LISTEN');
      assert.equal(err.message, `the metrics listener cannot bind 127.0.0.1:${port}: EADDRINUSE`);
      return true;
    });
  });
});

describe('admin socket', () => {
  it('answers /metrics, /healthz and /readyz as text beside its JSON routes', async (t) => {
    const socketPath = join(await makeTempDir('admin'), 'admin.sock');
    const { sources, fakes } = fakeSources();
    fakes.ready = true;
    const admin = new AdminServer(socketPath, { '/stats': () => ({ ok: 1 }), ...new MetricsEndpoint(sources).routes() }, log);
    await admin.start();
    t.after(() => admin.stop());
    const m = await request({ socketPath }, '/metrics');
    assert.deepEqual({ status: m.status, type: m.type }, { status: 200, type: 'text/plain; version=0.0.4; charset=utf-8' });
    assert.match(m.body, /^realmgw_ready 1$/m);
    assert.equal((await request({ socketPath }, '/readyz')).status, 200);
    assert.equal((await request({ socketPath }, '/healthz')).body, 'ok\n');
    const stats = await request({ socketPath }, '/stats');
    assert.deepEqual({ type: stats.type, body: JSON.parse(stats.body) }, { type: 'application/json', body: { ok: 1 } });
  });
});
