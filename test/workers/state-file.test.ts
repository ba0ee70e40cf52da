import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StateFileError } from '../../src/workers/errors.js';
import { Registry } from '../../src/workers/registry.js';
import type { RegistryState } from '../../src/workers/state.js';
import { STATE_FORMAT, STATE_VERSION, StateWriter, decodeState, encodeState, readStateFile, writeStateFile } from '../../src/workers/state-file.js';
import { TCP_10053, TCP_22, UDP_10053, makeConfig, secretOf, seededRandom } from './support.js';

const T0 = 1_800_000_000_000;
const W1 = '10.9.0.10';
const W2 = '10.9.0.11';

/** A registry with two workers, one released service (cooling down) and some history. */
function populated(): Registry {
  const r = new Registry(makeConfig({ names: ['w1', 'w2', 'w3'] }), { random: seededRandom(3) });
  assert.ok(r.register('w1', secretOf('w1'), { address: W1 }, [TCP_22, TCP_10053, UDP_10053], T0).ok);
  assert.ok(r.register('w2', secretOf('w2'), { address: W2 }, [TCP_22], T0 + 10).ok);
  assert.ok(r.register('w1', secretOf('w1'), { address: W1 }, [TCP_10053, UDP_10053], T0 + 20).ok);
  return r;
}

const state = (over: object): string => JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, registrations: [], coolDowns: [], ...over });
const lease = (publicPort: number, port = 22, protocol = 'tcp') => ({ protocol, port, publicPort });
const registration = (worker: string, leases: object[], address = W1) => ({ worker, address, lastSeen: T0, leases });

describe('state file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rgw-workers-state-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('restores the same public ports, registrations and cool-downs after a restart', async () => {
    const live = populated();
    const file = join(dir, 'roundtrip.json');
    await writeStateFile(file, live.snapshot());
    const saved = await readStateFile(file);
    assert.ok(saved !== undefined);
    const { registry, dropped } = Registry.restore(makeConfig({ names: ['w1', 'w2', 'w3'] }), saved, { now: T0 + 20, resetLastSeen: false });
    assert.deepEqual(dropped, []);
    assert.deepEqual(registry.snapshot(), live.snapshot());
    assert.deepEqual(registry.leases(), live.leases());
    assert.equal(live.snapshot().coolDowns.length, 1);
  });

  it('is versioned JSON, private to root, with no temporary file left behind', async () => {
    const file = join(dir, 'format.json');
    await writeStateFile(file, populated().snapshot());
    const doc = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(doc.format, 'realmgw-workers-state');
    assert.equal(doc.version, 1);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('format')), ['format.json']);
  });

  it('replaces the previous file whole', async () => {
    const file = join(dir, 'replace.json');
    await writeStateFile(file, populated().snapshot());
    await writeStateFile(file, { registrations: [], coolDowns: [] });
    assert.deepEqual(await readStateFile(file), { registrations: [], coolDowns: [] });
  });

  it('a missing file is a first start, not an error', async () => {
    assert.equal(await readStateFile(join(dir, 'absent.json')), undefined);
  });

  it('an unreadable path is an I/O error naming the file', async () => {
    await assert.rejects(readStateFile(dir), (e: unknown) => e instanceof StateFileError && e.code === 'RGW_STATE_IO' && e.message.startsWith(dir));
  });

  it('a failed write is an I/O error and leaves no temporary file', async () => {
    const target = join(dir, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'x'), 'x');
    await assert.rejects(writeStateFile(target, { registrations: [], coolDowns: [] }), (e: unknown) => e instanceof StateFileError && e.code === 'RGW_STATE_IO');
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
    await assert.rejects(writeStateFile(join(dir, 'no', 'such', 'dir.json'), { registrations: [], coolDowns: [] }), /cannot write/);
  });

  it('a corrupt file is reported, not discarded', async () => {
    const file = join(dir, 'corrupt.json');
    await writeFile(file, '{"format": "realmgw-workers-state", "vers');
    await assert.rejects(readStateFile(file), (e: unknown) => e instanceof StateFileError && e.code === 'RGW_STATE_CORRUPT' && /not JSON/.test(e.message));
    assert.ok((await stat(file)).size > 0, 'still there for the operator');
  });

  it('StateWriter writes saves one at a time and ends with the newest', async () => {
    const file = join(dir, 'writer.json');
    const writer = new StateWriter(file);
    const r = populated();
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      assert.ok(r.heartbeat('w2', secretOf('w2'), { address: W2 }, T0 + 100 + i).ok);
      saves.push(writer.save(r.snapshot()));
    }
    await Promise.all(saves);
    await writer.idle();
    assert.deepEqual(await readStateFile(file), r.snapshot());
    assert.equal((await readStateFile(file))!.registrations[1].lastSeen, T0 + 119);
    // A save after the queue drained starts a new write.
    assert.ok(r.deregister('w2', secretOf('w2'), T0 + 200).ok);
    await writer.save(r.snapshot());
    assert.deepEqual(await readStateFile(file), r.snapshot());
  });

  it('StateWriter reports a failed write and the next save writes again', async () => {
    const bad = new StateWriter(join(dir, 'missing-dir', 'x.json'));
    await assert.rejects(bad.save({ registrations: [], coolDowns: [] }), StateFileError);
    await assert.rejects(bad.save({ registrations: [], coolDowns: [] }), StateFileError);
  });
});

describe('decodeState', () => {
  const cases: { name: string; text: string; code: string; reason: RegExp }[] = [
    { name: 'empty file', text: '', code: 'RGW_STATE_CORRUPT', reason: /not JSON/ },
    { name: 'truncated', text: state({}).slice(0, 30), code: 'RGW_STATE_CORRUPT', reason: /not JSON/ },
    { name: 'a list', text: '[]', code: 'RGW_STATE_CORRUPT', reason: /not a realmgw workers state file \(format null\)/ },
    { name: 'another program', text: JSON.stringify({ format: 'sonm-hub', version: 1 }), code: 'RGW_STATE_CORRUPT', reason: /format "sonm-hub"/ },
    { name: 'a newer version', text: state({ version: 2 }), code: 'RGW_STATE_VERSION', reason: /version 2; this realmgw reads version 1/ },
    { name: 'version as a string', text: state({ version: '1' }), code: 'RGW_STATE_VERSION', reason: /version "1"/ },
    { name: 'no version', text: JSON.stringify({ format: STATE_FORMAT }), code: 'RGW_STATE_VERSION', reason: /version null/ },
    { name: 'registrations not a list', text: state({ registrations: {} }), code: 'RGW_STATE_CORRUPT', reason: /registrations: not a list/ },
    { name: 'bad address', text: state({ registrations: [registration('w1', [], '10.9.0')] }), code: 'RGW_STATE_CORRUPT', reason: /registrations\[0\]\.address: not an IPv4/ },
    { name: 'bad time', text: state({ registrations: [{ ...registration('w1', []), lastSeen: 'yesterday' }] }), code: 'RGW_STATE_CORRUPT', reason: /lastSeen: not a time/ },
    { name: 'bad lease', text: state({ registrations: [registration('w1', [lease(0)])] }), code: 'RGW_STATE_CORRUPT', reason: /leases\[0\]: not \{protocol/ },
    { name: 'worker twice', text: state({ registrations: [registration('w1', []), registration('w1', [])] }), code: 'RGW_STATE_CORRUPT', reason: /w1 appears twice/ },
    { name: 'service leased twice', text: state({ registrations: [registration('w1', [lease(40000), lease(40001)])] }), code: 'RGW_STATE_CORRUPT', reason: /tcp\/22 leased twice/ },
    {
      name: 'public port leased to two workers',
      text: state({ registrations: [registration('w1', [lease(40000)]), registration('w2', [lease(40000, 80)], W2)] }),
      code: 'RGW_STATE_CORRUPT',
      reason: /registrations\[1\]\.leases\[0\]: public port tcp\/40000 is also held by registrations\[0\]\.leases\[0\]/,
    },
    {
      name: 'public port leased and cooling down',
      text: state({ registrations: [registration('w1', [lease(40000)])], coolDowns: [{ protocol: 'tcp', publicPort: 40000, until: T0 }] }),
      code: 'RGW_STATE_CORRUPT',
      reason: /coolDowns\[0\]: public port tcp\/40000 is also held/,
    },
    { name: 'bad cool-down', text: state({ coolDowns: [{ protocol: 'icmp', publicPort: 40000, until: T0 }] }), code: 'RGW_STATE_CORRUPT', reason: /coolDowns\[0\]/ },
  ];
  for (const c of cases) {
    it(`${c.code}: ${c.name}`, () => {
      assert.throws(
        () => decodeState(c.text, '/var/lib/realmgw/workers.json'),
        (e: unknown) => e instanceof StateFileError && e.code === c.code && c.reason.test(e.message) && e.message.startsWith('/var/lib/realmgw/workers.json: '),
      );
    });
  }

  it('lists the first problems and counts the rest', () => {
    const leases = Array.from({ length: 8 }, () => lease(0));
    assert.throws(() => decodeState(state({ registrations: [registration('w1', leases)] }), 'f'), /… \(8 problems\)/);
  });

  it('keeps only the fields the format defines', () => {
    const decoded = decodeState(state({ extra: 1, registrations: [{ ...registration('w1', [{ ...lease(40000), note: 'x' }]), more: true }] }), 'f');
    assert.deepEqual(decoded, { registrations: [registration('w1', [lease(40000)])], coolDowns: [] });
  });

  it('encodeState refuses an inconsistent state', () => {
    const bad: RegistryState = { registrations: [registration('w1', [lease(40000)]) as never], coolDowns: [{ protocol: 'tcp', publicPort: 40000, until: T0 }] };
    assert.throws(() => encodeState(bad), /inconsistent/);
  });
});

describe('Registry.restore under a changed config', () => {
  const saved = (): RegistryState =>
    decodeState(
      state({
        registrations: [
          registration('w1', [lease(40000), lease(40001, 53, 'udp')]),
          registration('w2', [lease(40002), lease(40003, 80)], W2),
        ],
        coolDowns: [
          { protocol: 'tcp', publicPort: 40010, until: T0 + 500 },
          { protocol: 'tcp', publicPort: 40011, until: T0 - 1 },
          { protocol: 'udp', publicPort: 40012, until: T0 + 99_999 },
          { protocol: 'tcp', publicPort: 50000, until: T0 + 500 },
        ],
      }),
      'f',
    );
  const NOW = T0 + 100;

  const cases: { name: string; over: Parameters<typeof makeConfig>[0]; reason: string }[] = [
    { name: 'worker removed from the config', over: { names: ['w1'] }, reason: 'unknown-worker' },
    { name: 'private network changed', over: { privateNetwork: '10.9.0.10/32' }, reason: 'address-outside-private-network' },
    { name: "worker's quota lowered", over: { quotas: { w2: 1 } }, reason: 'quota-exceeded' },
    { name: 'port range shrunk', over: { ports: [40000, 40002] }, reason: 'port-outside-range' },
  ];
  for (const c of cases) {
    it(`drops the whole registration: ${c.name}`, () => {
      const { registry, dropped } = Registry.restore(makeConfig({ names: ['w1', 'w2'], ...c.over }), saved(), { now: NOW });
      assert.deepEqual(dropped.map((d) => [d.worker, d.reason, d.leases.length]), [['w2', c.reason, 2]]);
      assert.ok(dropped[0].message.length > 0);
      assert.deepEqual(registry.workers().map((w) => w.name), ['w1']);
      const cooling = registry.snapshot().coolDowns.filter((cd) => cd.publicPort === 40002 || cd.publicPort === 40003);
      const inRange = c.reason === 'port-outside-range' ? [40002] : [40002, 40003];
      assert.deepEqual(cooling, inRange.map((publicPort) => ({ protocol: 'tcp', publicPort, until: NOW + 1000 })), 'released ports cool down');
    });
  }

  it('keeps running cool-downs, forgets ended or out-of-range ones, and caps them at the configured cool-down', () => {
    const { registry } = Registry.restore(makeConfig(), saved(), { now: NOW });
    assert.deepEqual(registry.snapshot().coolDowns, [
      { protocol: 'tcp', publicPort: 40010, until: T0 + 500 },
      { protocol: 'udp', publicPort: 40012, until: NOW + 1000 },
    ]);
  });

  it('counts restored workers as seen at the restore unless told to keep saved times', () => {
    const reset = Registry.restore(makeConfig(), saved(), { now: NOW }).registry;
    assert.deepEqual(reset.workers().map((w) => w.lastSeen), [NOW, NOW]);
    assert.deepEqual(reset.expire(NOW + 3000).expired, [], 'the downtime does not count against the workers');
    const kept = Registry.restore(makeConfig(), saved(), { now: NOW, resetLastSeen: false }).registry;
    assert.deepEqual(kept.workers().map((w) => w.lastSeen), [T0, T0]);
  });

  it('restored workers keep their ports on re-registration and a heartbeat works at once', () => {
    const { registry } = Registry.restore(makeConfig(), saved(), { now: NOW });
    const hb = registry.heartbeat('w2', secretOf('w2'), { address: W2 }, NOW + 1);
    assert.ok(hb.ok);
    const again = registry.register('w1', secretOf('w1'), { address: W1 }, [TCP_22, { port: 53, protocol: 'udp' }], NOW + 2);
    assert.ok(again.ok);
    assert.deepEqual(again.leases.map((l) => l.publicPort), [40000, 40001]);
    assert.deepEqual(again.diff, { add: [], remove: [] });
  });

  it('refuses an inconsistent state handed to it directly', () => {
    const bad = { registrations: [registration('w1', [lease(40000)]), registration('w2', [lease(40000, 80)], W2)], coolDowns: [] } as unknown as RegistryState;
    assert.throws(() => Registry.restore(makeConfig(), bad, { now: NOW }), /inconsistent/);
  });
});
