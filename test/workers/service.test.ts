// WorkersService without HTTP: ordering of changes, undo on kernel refusal, state file, accounting, records.
import assert from 'node:assert/strict';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateFileError } from '../../src/workers/errors.js';
import { mergeDiffs, WorkersService } from '../../src/workers/service.js';
import type { Service } from '../../src/workers/lease.js';
import { memoryLogger } from '../stun/support.js';
import { makeTempDir } from '../support/repo.js';
import { RecordingBackend, loopbackConfig } from '../worker-agent/support.js';
import { TCP_10053, TCP_22, UDP_10053, secretOf, seededRandom } from './support.js';

const FROM = { address: '127.0.0.5' };

async function service(t: { after: (fn: () => Promise<void>) => void }, over: { stateFile?: string; backend?: RecordingBackend; names?: string[]; now?: () => number } = {}) {
  const { logger, lines } = memoryLogger();
  const backend = over.backend ?? new RecordingBackend();
  const stateFile = over.stateFile ?? join(await makeTempDir('svc'), 'state.json');
  const s = new WorkersService({
    config: loopbackConfig({ names: over.names, ports: [40000, 49999], quota: 8 }),
    backend,
    stateFile,
    publicAddress: '100.64.1.130',
    heartbeatMs: 1000,
    log: logger,
    random: seededRandom(7),
    countersIntervalMs: 0,
    now: over.now,
  });
  await s.start();
  t.after(() => s.stop());
  return { s, backend, lines, stateFile };
}

test('changes run in arrival order, never overlapping in the kernel; those queued behind a slow kernel share one transaction', async (t) => {
  const names = Array.from({ length: 20 }, (_, i) => `w${i}`);
  const { s, backend } = await service(t, { names });
  backend.delayMs = 5;
  const results = await Promise.all(names.flatMap((n) => [s.register(n, secretOf(n), FROM, [TCP_10053, UDP_10053]), s.heartbeat(n, secretOf(n), FROM)]));
  assert.ok(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
  assert.equal(backend.mapped.size, 40);
  const applies = backend.applies();
  assert.equal(applies.length, 2, 'the first registration alone, then everything queued behind it at once');
  assert.deepEqual(applies.map((d) => d.add.length), [2, 38]);
});

test('a change the kernel refuses inside a merged batch fails alone; the others are mapped', async (t) => {
  const names = Array.from({ length: 6 }, (_, i) => `w${i}`);
  const { s, backend } = await service(t, { names });
  backend.delayMs = 5;
  backend.refuseWorker = 'w3';
  const results = await Promise.all(names.map((n) => s.register(n, secretOf(n), FROM, [TCP_10053])));
  assert.deepEqual(results.map((r) => (r.ok ? 'ok' : r.code)), ['ok', 'ok', 'ok', 'backend-failed', 'ok', 'ok']);
  assert.deepEqual([...s.records().keys()].sort(), ['w0', 'w1', 'w2', 'w4', 'w5'], 'the refused one is not registered');
  assert.deepEqual([...backend.mapped.values()].map((l) => l.worker).sort(), ['w0', 'w1', 'w2', 'w4', 'w5']);
});

test('mergeDiffs: the net change of diffs applied in order', () => {
  const lease = (worker: string, publicPort: number, address = '10.0.0.1') => ({ worker, publicPort, protocol: 'tcp' as const, target: { address, port: 80 } });
  const a = lease('a', 20001);
  const moved = lease('a', 20001, '10.0.0.2');
  assert.deepEqual(mergeDiffs([{ add: [a], remove: [] }, { add: [], remove: [a] }]), { add: [], remove: [] }, 'added then removed: never in the kernel');
  assert.deepEqual(mergeDiffs([{ add: [], remove: [a] }, { add: [a], remove: [] }]), { add: [], remove: [] }, 'removed and back unchanged: stays');
  assert.deepEqual(mergeDiffs([{ add: [], remove: [a] }, { add: [moved], remove: [] }]), { add: [moved], remove: [a] }, 'moved: remove, then add');
  assert.deepEqual(mergeDiffs([{ add: [], remove: [a] }, { add: [moved], remove: [] }, { add: [], remove: [moved] }]), { add: [], remove: [a] });
});

test('a refused deregistration or expiry keeps the worker registered and mapped', async (t) => {
  let now = 1_000_000;
  const { s, backend } = await service(t, { now: () => now });
  const r = await s.register('w1', secretOf('w1'), FROM, [TCP_22]);
  assert.ok(r.ok);
  backend.failing = true;
  const d = await s.deregister('w1', secretOf('w1'));
  assert.deepEqual([d.ok, !d.ok && d.code], [false, 'backend-failed']);
  now += 10_000;
  await s.expire();
  assert.deepEqual([...s.records().keys()], ['w1'], 'still registered after a refused expiry');
  assert.equal(backend.mapped.size, 1);
  backend.failing = false;
  await s.expire();
  assert.equal(s.records().size, 0, 'expired once the kernel accepts');
  assert.equal(backend.mapped.size, 0);
});

test('the state file holds every registration before the answer; a corrupt one stops start()', async (t) => {
  const { s, stateFile } = await service(t);
  const r = await s.register('w1', secretOf('w1'), FROM, [TCP_10053, UDP_10053]);
  assert.ok(r.ok);
  const saved = JSON.parse(await readFile(stateFile, 'utf8'));
  assert.deepEqual(
    saved.registrations[0].leases.map((l: { publicPort: number }) => l.publicPort).sort(),
    r.leases.map((l) => l.publicPort).sort(),
  );
  await writeFile(stateFile, '{"format": "something else"}');
  const backend = new RecordingBackend();
  const other = new WorkersService({ config: loopbackConfig(), backend, stateFile, publicAddress: '100.64.1.130', heartbeatMs: 1000, log: memoryLogger().logger });
  await assert.rejects(other.start(), StateFileError);
  assert.equal(backend.calls.length, 0, 'nothing installed');
  const refused = await other.register('w1', secretOf('w1'), FROM, [TCP_22]);
  assert.deepEqual([refused.ok, !refused.ok && refused.code], [false, 'unavailable']);
});

test('view merges kernel counters per lease and totals per worker; records and their change listeners follow changes', async (t) => {
  const { s, backend } = await service(t);
  const changes: [string, number | null][][] = [];
  s.onWorkersChange((c) => changes.push([...c].map(([name, rec]) => [name, rec ? rec.leases.length : null])));
  const r = await s.register('w1', secretOf('w1'), FROM, [TCP_10053, UDP_10053], { classic: 'full cone', mappedAddress: '198.51.100.9', mappedPort: 5000 });
  assert.ok(r.ok);
  const [tcp, udp] = r.leases;
  backend.counterValues.set(`tcp/${tcp.publicPort}`, { connections: 2, packetsIn: 10, packetsOut: 8, bytesIn: 1000, bytesOut: 800 });
  backend.counterValues.set(`udp/${udp.publicPort}`, { connections: 1, packetsIn: 1, packetsOut: 1, bytesIn: 50, bytesOut: 60 });
  await s.refreshCounters();
  // The kernel object was recreated (counters went down): the account goes on from there.
  backend.counterValues.set(`tcp/${tcp.publicPort}`, { connections: 1, packetsIn: 3, packetsOut: 3, bytesIn: 100, bytesOut: 100 });
  const v = await s.viewFresh();
  assert.equal(v.publicAddress, '100.64.1.130');
  const w = v.workers[0];
  assert.deepEqual([w.name, w.address, w.nat?.classic], ['w1', '127.0.0.5', 'full cone']);
  assert.deepEqual(w.leases.map((l) => l.endpoint), [`10053/tcp->100.64.1.130:${tcp.publicPort}`, `10053/udp->100.64.1.130:${udp.publicPort}`]);
  assert.deepEqual(w.leases[0].counters, { connections: 3, packetsIn: 13, packetsOut: 11, bytesIn: 1100, bytesOut: 900 });
  assert.deepEqual(w.totals, { connections: 4, packetsIn: 14, packetsOut: 12, bytesIn: 1150, bytesOut: 960 });
  assert.deepEqual(s.records().get('w1')?.leases, r.leases);
  await s.deregister('w1', secretOf('w1'));
  assert.deepEqual(changes, [[['w1', 2]], [['w1', null]]], 'only the changed worker, synchronously');
  assert.deepEqual(s.view().workers, []);
});

// How fast is the workers-register row of `npm run bench` (1,000 x 5 through the real API and kernel).
test('1,000 workers with 5 ports each register at once: every one answered, every mapping applied', async (t) => {
  const names = Array.from({ length: 1000 }, (_, i) => `w${i}`);
  const { s, backend } = await service(t, { names });
  const services: Service[] = [22, 80, 443, 10053, 8080].map((port) => ({ port, protocol: 'tcp' }));
  const results = await Promise.all(names.map((n) => s.register(n, secretOf(n), FROM, services)));
  assert.ok(results.every((r) => r.ok));
  assert.equal(backend.mapped.size, 5000);
  assert.equal(new Set(results.flatMap((r) => (r.ok ? r.leases.map((l) => l.publicPort) : []))).size, 5000, 'no public port leased twice');
  await s.idle();
});
