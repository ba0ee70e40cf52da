/**
 * Random sequences of register / heartbeat / deregister / expire / time steps / restart-from-state for several
 * workers. A simulated kernel applies every diff (a remove must find exactly that lease, an add must find its
 * public port unused) and must equal the registry's leases after each step. A small reference model predicts
 * every outcome: which refusal, or exactly which leases. Checked after every step: no public port held twice,
 * quotas, all or nothing, cool-downs, targets; at the end, every lease ever added has been removed exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Lease, LeaseDiff, Protocol, Service } from '../../src/workers/lease.js';
import { Registry } from '../../src/workers/registry.js';
import type { WorkersConfig } from '../../src/workers/config.js';
import { decodeState, encodeState } from '../../src/workers/state-file.js';
import { makeConfig, secretOf, seededRandom } from './support.js';

const T0 = 1_800_000_000_000;
const WORKERS = ['w0', 'w1', 'w2', 'w3'];
const NAMES = [...WORKERS, 'ghost'];
const ADDRESSES = ['10.9.0.10', '10.9.0.11', '10.9.0.12', '10.8.0.1'];
const SERVICES: Service[] = [53, 80, 443, 10053].flatMap((port) => (['tcp', 'udp'] as const).map((protocol) => ({ port, protocol })));

type Op =
  | { kind: 'register'; who: number; goodSecret: boolean; addr: number; services: number[] }
  | { kind: 'heartbeat'; who: number; goodSecret: boolean; addr: number }
  | { kind: 'deregister'; who: number; goodSecret: boolean }
  | { kind: 'expire' }
  | { kind: 'time'; dt: number }
  | { kind: 'restart' };

const who = fc.nat({ max: 20 }).map((n) => (n === 20 ? 4 : n % 4)); // now and then an unknown name
const goodSecret = fc.nat({ max: 15 }).map((n) => n > 0);
const addr = fc.nat({ max: 12 }).map((n) => (n === 12 ? 3 : n % 3)); // now and then from outside
/** Mostly distinct services; now and then one declared twice (a bad request). */
const services = fc.oneof(
  { weight: 6, arbitrary: fc.uniqueArray(fc.nat({ max: 7 }), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.array(fc.nat({ max: 7 }), { maxLength: 5 }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('register' as const), who, goodSecret, addr, services }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), who, goodSecret, addr }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deregister' as const), who, goodSecret }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'expire' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('time' as const), dt: fc.oneof(fc.constant(0), fc.nat({ max: 80 })) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

interface Setup {
  ports: [number, number];
  coolDownMs: number;
  heartbeatTimeoutMs: number;
  quotas: Record<string, number>;
}

const portKey = (protocol: Protocol, port: number) => `${protocol}/${port}`;
const leaseKey = (l: Lease) => portKey(l.protocol, l.publicPort);

class Harness {
  readonly config: WorkersConfig;
  registry: Registry;
  now = T0;
  /** What the kernel holds after applying every diff, by protocol/public port. */
  readonly kernel = new Map<string, Lease>();
  /** When each public port was last released (removed and not re-added in the same diff). */
  readonly releasedAt = new Map<string, number>();
  /** Model: each registered worker's address, last seen, and services by service key -> public port. */
  readonly model = new Map<string, { address: string; lastSeen: number; leases: Map<string, Lease> }>();
  adds = 0;
  removes = 0;
  /** Outcomes seen, by code ('ok' for accepted calls): shows the runs reach every branch. */
  readonly outcomes = new Map<string, number>();

  constructor(readonly setup: Setup, seed: number) {
    this.config = makeConfig({ names: WORKERS, ports: setup.ports, quota: 3, quotas: setup.quotas, coolDownMs: setup.coolDownMs, heartbeatTimeoutMs: setup.heartbeatTimeoutMs });
    this.registry = new Registry(this.config, { random: seededRandom(seed) });
  }

  count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** The registry's snapshot as of the harness's time (a registry only learns the time from calls). */
  state(registry: Registry): ReturnType<Registry['snapshot']> {
    const s = registry.snapshot();
    return { ...s, coolDowns: s.coolDowns.filter((c) => c.until > this.now) };
  }

  quotaOf(name: string): number {
    return this.setup.quotas[name] ?? 3;
  }

  /** Free ports of a protocol per the model: in range, not leased, not cooling down. */
  freePorts(protocol: Protocol): number {
    let n = 0;
    for (let p = this.setup.ports[0]; p <= this.setup.ports[1]; p++) {
      const key = portKey(protocol, p);
      if (this.kernel.has(key)) continue;
      const released = this.releasedAt.get(key);
      if (released !== undefined && this.now < released + this.setup.coolDownMs) continue;
      n++;
    }
    return n;
  }

  apply(diff: LeaseDiff): void {
    const readded = new Set(diff.add.map(leaseKey));
    const removed = new Set(diff.remove.map(leaseKey));
    for (const l of diff.remove) {
      assert.deepEqual(this.kernel.get(leaseKey(l)), l, `removing ${leaseKey(l)} which the kernel does not hold as such`);
      this.kernel.delete(leaseKey(l));
      this.removes++;
      if (!readded.has(leaseKey(l))) this.releasedAt.set(leaseKey(l), this.now);
    }
    for (const l of diff.add) {
      const key = leaseKey(l);
      assert.equal(this.kernel.has(key), false, `public port ${key} leased twice`);
      const released = this.releasedAt.get(key);
      if (!removed.has(key) && released !== undefined) {
        assert.ok(this.now >= released + this.setup.coolDownMs, `${key} reused ${this.now - released} ms after release`);
        this.count('port reused after its cool-down');
      }
      if (removed.has(key)) this.count('lease retargeted');
      assert.ok(l.publicPort >= this.setup.ports[0] && l.publicPort <= this.setup.ports[1]);
      this.kernel.set(key, l);
      this.adds++;
    }
  }

  step(o: Op): void {
    const r = this.registry;
    switch (o.kind) {
      case 'time':
        this.now += o.dt;
        return;
      case 'expire': {
        const expected = [...this.model].filter(([, m]) => this.now - m.lastSeen > this.setup.heartbeatTimeoutMs).map(([n]) => n).sort();
        const res = r.expire(this.now);
        assert.deepEqual(res.expired, expected);
        assert.deepEqual(res.add, []);
        assert.deepEqual(new Set(res.remove), new Set(expected.flatMap((n) => [...this.model.get(n)!.leases.values()])));
        for (const n of expected) this.model.delete(n);
        if (res.remove.length > 0) this.count('leases expired');
        this.apply(res);
        return;
      }
      case 'restart': {
        const state = decodeState(encodeState(r.snapshot()), 'state.json');
        const { registry, dropped } = Registry.restore(this.config, state, { now: this.now, random: seededRandom(this.now), resetLastSeen: false });
        assert.deepEqual(dropped, []);
        assert.deepEqual(this.state(registry), this.state(r), 'restore-from-state equals live state');
        assert.deepEqual(registry.leases(), r.leases());
        const stats = registry.stats();
        assert.deepEqual(stats.free, { tcp: this.freePorts('tcp'), udp: this.freePorts('udp') });
        this.registry = registry;
        if (registry.leases().length > 0) this.count('restarted with leases');
        return;
      }
      case 'deregister': {
        const name = NAMES[o.who];
        const res = r.deregister(name, o.goodSecret ? secretOf(name) : 'not-the-secret-not-the-secret', this.now);
        const expectedCode = name === 'ghost' ? 'unknown-worker' : !o.goodSecret ? 'bad-secret' : undefined;
        assert.equal(res.ok ? undefined : res.code, expectedCode);
        if (!res.ok) return;
        assert.deepEqual(new Set(res.diff.remove), new Set(this.model.get(name)?.leases.values() ?? []));
        this.model.delete(name);
        this.apply(res.diff);
        return;
      }
      case 'heartbeat': {
        const name = NAMES[o.who];
        const address = ADDRESSES[o.addr];
        const res = r.heartbeat(name, o.goodSecret ? secretOf(name) : 'not-the-secret-not-the-secret', { address }, this.now);
        const m = this.model.get(name);
        const expectedCode =
          name === 'ghost' ? 'unknown-worker' : !o.goodSecret ? 'bad-secret' : m === undefined ? 'not-registered' : m.address !== address ? 'address-mismatch' : undefined;
        assert.equal(res.ok ? undefined : res.code, expectedCode);
        this.count(`heartbeat ${res.ok ? 'ok' : res.code}`);
        if (!res.ok) return;
        assert.deepEqual(new Set(res.leases), new Set(m!.leases.values()));
        assert.deepEqual(res.diff, { add: [], remove: [] });
        m!.lastSeen = this.now;
        return;
      }
      case 'register':
        return this.register(o);
    }
  }

  private register(o: Extract<Op, { kind: 'register' }>): void {
    const name = NAMES[o.who];
    const address = ADDRESSES[o.addr];
    const services = o.services.map((i) => SERVICES[i]);
    const keys = services.map((s) => portKey(s.protocol, s.port));
    const held = this.model.get(name)?.leases ?? new Map<string, Lease>();
    const fresh = [...new Set(keys)].filter((k) => !held.has(k));
    const need = (p: Protocol) => fresh.filter((k) => k.startsWith(`${p}/`)).length;
    const expectedCode =
      name === 'ghost' ? 'unknown-worker'
      : !o.goodSecret ? 'bad-secret'
      : address === '10.8.0.1' ? 'address-outside-private-network'
      : new Set(keys).size < keys.length ? 'bad-request'
      : keys.length > this.quotaOf(name) ? 'quota-exceeded'
      : need('tcp') > this.freePorts('tcp') || need('udp') > this.freePorts('udp') ? 'range-exhausted'
      : undefined;

    const before = this.state(this.registry);
    const res = this.registry.register(name, o.goodSecret ? secretOf(name) : 'not-the-secret-not-the-secret', { address }, services, this.now);
    assert.equal(res.ok ? undefined : res.code, expectedCode, res.ok ? '' : res.message);
    this.count(`register ${res.ok ? 'ok' : res.code}`);
    if (!res.ok) {
      assert.deepEqual(this.state(this.registry), before, 'a refusal changes nothing');
      return;
    }
    // All or nothing: exactly the declared services, all at the registration's source address.
    assert.deepEqual(res.leases.map((l) => portKey(l.protocol, l.target.port)).sort(), [...keys].sort());
    for (const l of res.leases) {
      assert.equal(l.worker, name);
      assert.equal(l.target.address, address);
      const old = held.get(portKey(l.protocol, l.target.port));
      if (old !== undefined) assert.equal(l.publicPort, old.publicPort, 'a held service keeps its public port');
    }
    this.apply(res.diff);
    this.model.set(name, { address, lastSeen: this.now, leases: new Map(res.leases.map((l) => [portKey(l.protocol, l.target.port), l])) });
  }

  check(): void {
    const leases = this.registry.leases();
    assert.deepEqual(new Map(leases.map((l) => [leaseKey(l), l])), this.kernel, 'the kernel holds exactly the registry leases');
    assert.equal(new Set(leases.map(leaseKey)).size, leases.length, 'no public port held twice');
    for (const w of this.registry.workers()) {
      assert.ok(w.leases.length <= this.quotaOf(w.name), `${w.name} over quota`);
      assert.ok(w.leases.every((l) => l.target.address === w.address));
    }
    assert.deepEqual(this.registry.workers().map((w) => w.name), [...this.model.keys()].sort());
  }

  /** Every worker falls silent: all leases must come back out of the kernel, each exactly once. */
  drain(): void {
    this.now += this.setup.heartbeatTimeoutMs + 1;
    this.step({ kind: 'expire' });
    this.check();
    assert.equal(this.kernel.size, 0);
    assert.equal(this.removes, this.adds, 'every lease added was removed exactly once');
  }
}

function run(setup: Setup, seed: number, ops: Op[], seen: Set<string>): void {
  const h = new Harness(setup, seed);
  for (const o of ops) {
    h.step(o);
    h.check();
  }
  h.drain();
  for (const k of h.outcomes.keys()) seen.add(k);
}

const EVERY_OUTCOME = [
  ...['ok', 'unknown-worker', 'bad-secret', 'address-outside-private-network', 'bad-request', 'quota-exceeded'].map((c) => `register ${c}`),
  ...['ok', 'unknown-worker', 'bad-secret', 'not-registered', 'address-mismatch'].map((c) => `heartbeat ${c}`),
  'leases expired',
  'restarted with leases',
  'lease retargeted',
  'port reused after its cool-down',
];

const ROOMY: Setup = { ports: [40000, 40019], coolDownMs: 60, heartbeatTimeoutMs: 150, quotas: { w0: 5, w3: 2 } };
/** Four ports per protocol for four workers: exhaustion and cool-down waits are the norm. */
const CROWDED: Setup = { ports: [40000, 40003], coolDownMs: 120, heartbeatTimeoutMs: 200, quotas: { w0: 4, w1: 1 } };
const NO_COOLDOWN: Setup = { ports: [40000, 40002], coolDownMs: 0, heartbeatTimeoutMs: 100, quotas: {} };

describe('registry properties over random operation sequences', () => {
  const cases: [string, Setup, number, string[]][] = [
    ['roomy range', ROOMY, 250, []],
    ['crowded range', CROWDED, 250, ['register range-exhausted']],
    ['no cool-down', NO_COOLDOWN, 150, ['register range-exhausted']],
  ];
  for (const [name, setup, runs, expected] of cases) {
    it(name, () => {
      const seen = new Set<string>();
      fc.assert(fc.property(fc.integer(), fc.array(op, { maxLength: 60, size: 'max' }), (seed, ops) => run(setup, seed, ops, seen)), { numRuns: runs });
      // The runs must have reached every branch, or the properties above prove little.
      for (const outcome of [...EVERY_OUTCOME, ...expected]) assert.ok(seen.has(outcome), `no run reached: ${outcome}`);
    });
  }

  it('long sequences', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.integer(), fc.array(op, { minLength: 150, maxLength: 300, size: 'max' }), (seed, ops) => run(ROOMY, seed, ops, seen)), { numRuns: 25 });
  });
});
