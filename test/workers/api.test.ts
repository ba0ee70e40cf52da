// The registration API end to end over real sockets on 127.0.0.1: WorkersApiClient -> WorkersApiServer ->
// WorkersService -> RecordingBackend. Every refusal: right status and code, one warn line, no backend call.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiRefusedError, WorkersApiClient } from '../../src/workers/api/client.js';
import { parseEndpoint } from '../../src/workers/lease.js';
import { loopbackConfig, startGatewaySide, warnings, type GatewaySide } from '../worker-agent/support.js';
import { TCP_10053, TCP_22, UDP_10053, makeConfig, secretOf } from './support.js';

function client(gw: GatewaySide, worker = 'w1', secret = secretOf(worker)): WorkersApiClient {
  return new WorkersApiClient({ address: '127.0.0.1', port: gw.port, worker, secret, timeoutMs: 3000 });
}

/** A raw HTTP exchange: status and parsed body. */
async function http(gw: GatewaySide, method: string, path: string, body: string | Blob = '', headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${gw.port}${path}`, { method, headers: { authorization: `Bearer ${secretOf('w1')}`, ...headers }, body: method === 'GET' ? undefined : body });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as { error?: string; message?: string } };
}

async function refused(p: Promise<unknown>): Promise<ApiRefusedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiRefusedError) return err;
    throw err;
  }
  assert.fail('expected a refusal');
}

/** Runs `act`, then checks: exactly one new warn line, no backend call, and the mappings unchanged. */
async function expectRefusal(gw: GatewaySide, act: () => Promise<unknown>, status: number, code: string): Promise<void> {
  const warnsBefore = warnings(gw.lines).length;
  const callsBefore = gw.backend.calls.length;
  const mapped = gw.backend.ports();
  const snapshot = JSON.stringify(gw.service.view());
  const r = await act();
  const got = r instanceof ApiRefusedError ? { status: r.status, code: r.code } : (r as { status: number; body: { error: string } });
  const gotCode = 'code' in got ? got.code : got.body.error;
  assert.deepEqual({ status: got.status, code: gotCode }, { status, code });
  await gw.service.idle();
  const newWarns = warnings(gw.lines).slice(warnsBefore);
  assert.equal(newWarns.length, 1, `one warn line, got ${JSON.stringify(newWarns)}`);
  assert.equal(gw.backend.calls.length, callsBefore, 'no backend call');
  assert.deepEqual(gw.backend.ports(), mapped);
  assert.equal(JSON.stringify(gw.service.view()), snapshot, 'registry unchanged');
}

test('register, heartbeat, re-register, deregister over real sockets', async (t) => {
  const gw = await startGatewaySide(t);
  const w1 = client(gw);
  const reg = await w1.register([TCP_10053, UDP_10053]);
  assert.equal(reg.worker, 'w1');
  assert.equal(reg.address, '127.0.0.1', 'the peer address, not a claimed one');
  assert.equal(reg.heartbeatMs, 1000);
  assert.equal(reg.leases.length, 2);
  for (const l of reg.leases) {
    assert.deepEqual(parseEndpoint(l.endpoint), { port: l.port, protocol: l.protocol, address: '100.64.1.130', publicPort: l.publicPort });
    assert.ok(l.publicPort >= 40000 && l.publicPort <= 40099);
  }
  assert.deepEqual(gw.backend.ports(), reg.leases.map((l) => `${l.protocol}/${l.publicPort}`).sort());
  for (const lease of gw.backend.mapped.values()) assert.equal(lease.target.address, '127.0.0.1');

  const hb = await w1.heartbeat();
  assert.deepEqual(hb, reg, 'a heartbeat answers with the same leases');

  const applies = gw.backend.applies().length;
  const again = await w1.register([TCP_10053, UDP_10053]);
  assert.deepEqual(again.leases, reg.leases, 're-registering keeps the public ports');
  assert.equal(gw.backend.applies().length, applies, 'and changes nothing in the kernel');

  const more = await w1.register([TCP_10053, TCP_22]);
  const kept = more.leases.find((l) => l.protocol === 'tcp' && l.port === 10053);
  assert.equal(kept?.publicPort, reg.leases.find((l) => l.protocol === 'tcp')?.publicPort);
  assert.equal(gw.backend.mapped.size, 2);

  await w1.deregister();
  assert.equal(gw.backend.mapped.size, 0);
  const e = await refused(w1.heartbeat());
  assert.deepEqual([e.status, e.code], [409, 'not-registered']);
});

test('wrong secret and unknown worker: the same 401, one log line each, nothing changed', async (t) => {
  const gw = await startGatewaySide(t);
  await client(gw).register([TCP_10053]);
  const bad = await refused(client(gw, 'w1', 'not-the-secret-of-w1-at-all-xx').register([UDP_10053]));
  const unknown = await refused(client(gw, 'nobody', secretOf('nobody')).register([UDP_10053]));
  assert.deepEqual([bad.status, bad.code, bad.message], [unknown.status, unknown.code, unknown.message], 'indistinguishable');
  await expectRefusal(gw, () => refused(client(gw, 'w1', 'not-the-secret-of-w1-at-all-xx').register([UDP_10053])), 401, 'unauthorized');
  await expectRefusal(gw, () => refused(client(gw, 'nobody', secretOf('nobody')).heartbeat()), 401, 'unauthorized');
  await expectRefusal(gw, () => refused(client(gw, 'w1', 'not-the-secret-of-w1-at-all-xx').deregister()), 401, 'unauthorized');
  await expectRefusal(gw, () => http(gw, 'POST', '/v1/workers/w1/heartbeat', '', { authorization: 'Basic abc' }), 401, 'unauthorized');
  const reasons = warnings(gw.lines).map((l) => l.reason);
  assert.ok(reasons.includes('bad-secret') && reasons.includes('unknown-worker'), 'the log tells the operator which');
});

test('registration from outside the private network: 403, nothing mapped', async (t) => {
  const gw = await startGatewaySide(t, { config: makeConfig({ privateNetwork: '10.0.0.0/8' }) });
  await expectRefusal(gw, () => refused(client(gw).register([TCP_10053])), 403, 'address-outside-private-network');
});

test('quota and range exhaustion: 409 with the reason, nothing mapped', async (t) => {
  const gw = await startGatewaySide(t, { config: loopbackConfig({ ports: [40000, 40002], quotas: { w1: 2 }, quota: 10 }) });
  await expectRefusal(gw, () => refused(client(gw).register([TCP_10053, UDP_10053, TCP_22])), 409, 'quota-exceeded');
  await client(gw, 'w2').register([TCP_10053, TCP_22, { port: 1, protocol: 'tcp' }]);
  await expectRefusal(gw, () => refused(client(gw).register([TCP_10053])), 409, 'range-exhausted');
  // A refused re-registration keeps what the worker held.
  await client(gw).register([UDP_10053]);
  await expectRefusal(gw, () => refused(client(gw).register([UDP_10053, TCP_10053])), 409, 'range-exhausted');
  assert.deepEqual((await client(gw).heartbeat()).leases.map((l) => l.endpoint.split('->')[0]), ['10053/udp']);
});

test('malformed requests: 400/404/405/413, one log line, nothing changed, server keeps serving', async (t) => {
  const gw = await startGatewaySide(t);
  const post = (body: string | Blob) => () => http(gw, 'POST', '/v1/workers/w1/register', body, { 'content-type': 'application/json' });
  await expectRefusal(gw, post('{"services": [{"port": 10053, "protocol": "tcp"}'), 400, 'bad-request');
  await expectRefusal(gw, post('[]'), 400, 'bad-request');
  await expectRefusal(gw, post('"services"'), 400, 'bad-request');
  await expectRefusal(gw, post('{"services": [{"port": 0, "protocol": "tcp"}]}'), 400, 'bad-request');
  await expectRefusal(gw, post('{"services": [{"port": 53, "protocol": "sctp"}]}'), 400, 'bad-request');
  await expectRefusal(gw, post('{"services": [], "address": "10.0.0.1"}'), 400, 'bad-request');
  await expectRefusal(gw, post('{"services": [], "nat": "symmetric"}'), 400, 'bad-request');
  await expectRefusal(gw, post(new Blob([new Uint8Array([0xff, 0xfe, 0x00, 0x7b])])), 400, 'bad-request');
  await expectRefusal(gw, post(`{"services": [], "pad": "${'x'.repeat(70 * 1024)}"}`), 413, 'body-too-large');
  await expectRefusal(gw, () => http(gw, 'GET', '/v1/workers/w1/register'), 405, 'method-not-allowed');
  await expectRefusal(gw, () => http(gw, 'POST', '/v1/workers/w1/frobnicate'), 404, 'not-found');
  await expectRefusal(gw, () => http(gw, 'POST', '/admin'), 404, 'not-found');
  await expectRefusal(gw, () => http(gw, 'DELETE', '/v1/workers/%E0%A4%A'), 400, 'bad-request');

  // A chunked body that never ends within the limit, and raw garbage: refused, the server still answers.
  const raw = await rawExchange(gw.port, 'this is not HTTP\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 400/);
  const chunked = await rawExchange(
    gw.port,
    `POST /v1/workers/w1/register HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${secretOf('w1')}\r\ntransfer-encoding: chunked\r\n\r\n` +
      `10000\r\n${'a'.repeat(0x10000)}\r\n10000\r\n${'a'.repeat(0x10000)}\r\n0\r\n\r\n`,
  );
  assert.match(chunked, /^HTTP\/1\.1 413/);
  assert.equal(gw.backend.applies().length, 0);
  const ok = await client(gw).register([TCP_10053]);
  assert.equal(ok.leases.length, 1);
});

test('secrets never appear in logs or answers', async (t) => {
  const gw = await startGatewaySide(t);
  const wrong = 'WRONG-secret-value-0123456789-abcdef';
  await client(gw).register([TCP_10053], { classic: 'port restricted', mappedAddress: '198.51.100.7', mappedPort: 4000 });
  await client(gw).heartbeat();
  const answers: string[] = [];
  for (const act of [() => client(gw, 'w1', wrong).register([TCP_10053]), () => client(gw, 'ghost', wrong).heartbeat(), () => client(gw, 'w1', wrong).deregister()]) {
    answers.push((await refused(act())).message);
  }
  await client(gw).deregister();
  await gw.service.idle();
  const logged = JSON.stringify(gw.lines) + JSON.stringify(answers);
  assert.ok(gw.lines.length > 5, 'something was logged');
  for (const s of [secretOf('w1'), wrong]) assert.ok(!logged.includes(s), `secret ${s.slice(0, 6)}… leaked`);
  assert.ok(!logged.includes('Bearer'), 'no Authorization header in logs');
});

test('the kernel refusing a change: 503, registry and mappings unchanged, later changes work', async (t) => {
  const gw = await startGatewaySide(t);
  const first = await client(gw).register([TCP_10053]);
  const before = JSON.stringify(gw.service.view());
  gw.backend.failing = true;
  const e = await refused(client(gw).register([TCP_10053, UDP_10053]));
  assert.deepEqual([e.status, e.code], [503, 'backend-failed']);
  const fresh = await refused(client(gw, 'w2').register([TCP_22]));
  assert.equal(fresh.status, 503);
  const gone = await refused(client(gw).deregister());
  assert.equal(gone.status, 503);
  assert.equal(JSON.stringify(gw.service.view()), before, 'registry as before the refused changes');
  assert.deepEqual(gw.backend.ports(), [`tcp/${first.leases[0].publicPort}`]);
  assert.ok(gw.lines.some((l) => l.level === 50 && /kernel refused/.test(l.msg)), 'logged as an error');
  gw.backend.failing = false;
  const hb = await client(gw).heartbeat();
  assert.deepEqual(hb.leases, first.leases);
  const later = await client(gw).register([TCP_10053, UDP_10053]);
  assert.equal(later.leases.find((l) => l.protocol === 'tcp')?.publicPort, first.leases[0].publicPort);
  assert.equal(gw.backend.mapped.size, 2);
});

test('a worker that stops sending heartbeats loses its mappings', async (t) => {
  const gw = await startGatewaySide(t, { config: loopbackConfig({ heartbeatTimeoutMs: 300 }), expireIntervalMs: 50 });
  await client(gw).register([TCP_10053, UDP_10053]);
  await client(gw, 'w2').register([TCP_22]);
  // w2 keeps heartbeating until w1's silence has cost it its mappings
  const holds = (worker: string) => [...gw.backend.mapped.values()].some((l) => l.worker === worker);
  for (const deadline = Date.now() + 10_000; holds('w1'); await sleep(50)) {
    assert.ok(Date.now() < deadline, 'w1 expires');
    await client(gw, 'w2').heartbeat();
  }
  assert.deepEqual([...gw.backend.mapped.values()].map((l) => l.worker), ['w2'], 'w1 expired, w2 kept alive');
  const e = await refused(client(gw).heartbeat());
  assert.deepEqual([e.status, e.code], [409, 'not-registered']);
  assert.ok(gw.lines.some((l) => /expired/.test(l.msg)));
});

test('restarting the gateway side restores the same public ports from the state file', async (t) => {
  const gw = await startGatewaySide(t);
  const reg = await client(gw).register([TCP_10053, UDP_10053]);
  await gw.stop();
  assert.equal(gw.backend.mapped.size, 0, 'stop removes the mappings');
  const again = await startGatewaySide(t, { stateFile: gw.stateFile });
  const start = again.backend.calls[0];
  assert.equal(start.op, 'start');
  assert.deepEqual(again.backend.ports(), reg.leases.map((l) => `${l.protocol}/${l.publicPort}`).sort());
  const hb = await new WorkersApiClient({ address: '127.0.0.1', port: again.port, worker: 'w1', secret: secretOf('w1') }).heartbeat();
  assert.deepEqual(hb.leases, reg.leases);
});

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (data += c));
    s.on('end', () => resolve(data));
    s.on('close', () => resolve(data));
    s.on('error', (err) => (data ? resolve(data) : reject(err)));
    s.setTimeout(3000, () => s.destroy());
    s.end(request);
  });
}
