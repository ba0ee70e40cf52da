import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease, Service } from '../../src/workers/lease.js';
import { type Accepted, Registry, type RegistryResult } from '../../src/workers/registry.js';
import type { RefusalCode } from '../../src/workers/request.js';
import { TCP_10053, TCP_22, UDP_10053, UDP_123, makeConfig, secretOf, seededRandom } from './support.js';

const W1 = '10.9.0.10';
const W2 = '10.9.0.11';
const T0 = 1_800_000_000_000;

function fresh(over: Parameters<typeof makeConfig>[0] = {}, seed = 1): Registry {
  return new Registry(makeConfig(over), { random: seededRandom(seed) });
}

function ok(r: RegistryResult): Accepted {
  if (!r.ok) assert.fail(`refused: ${r.code}: ${r.message}`);
  return r;
}

function reg(r: Registry, name: string, services: readonly Service[], now = T0, address = W1): RegistryResult {
  return r.register(name, secretOf(name), { address }, services, now);
}

function ports(leases: readonly Lease[]): number[] {
  return leases.map((l) => l.publicPort);
}

describe('Registry.register refusals', () => {
  type Case = {
    name: string;
    code: RefusalCode;
    over?: Parameters<typeof makeConfig>[0];
    call: (r: Registry) => RegistryResult;
    message: RegExp;
    before?: (r: Registry) => void;
  };
  const cases: Case[] = [
    { name: 'unknown worker', code: 'unknown-worker', call: (r) => r.register('w9', secretOf('w9'), { address: W1 }, [TCP_22], T0), message: /no worker named "w9"/ },
    { name: 'wrong secret', code: 'bad-secret', call: (r) => r.register('w1', secretOf('w2'), { address: W1 }, [TCP_22], T0), message: /wrong secret for worker w1/ },
    { name: 'a megabyte of secret (refused without hashing it)', code: 'bad-secret', call: (r) => r.register('w1', 'x'.repeat(1 << 20), { address: W1 }, [TCP_22], T0), message: /wrong secret/ },
    { name: 'empty secret', code: 'bad-secret', call: (r) => r.register('w1', '', { address: W1 }, [TCP_22], T0), message: /wrong secret/ },
    { name: 'secret not a string', code: 'bad-request', call: (r) => r.register('w1', 42 as never, { address: W1 }, [TCP_22], T0), message: /secret must be a string/ },
    { name: 'name not a string', code: 'bad-request', call: (r) => r.register(null as never, secretOf('w1'), { address: W1 }, [TCP_22], T0), message: /name must be a string/ },
    { name: 'from outside the private network', code: 'address-outside-private-network', call: (r) => reg(r, 'w1', [TCP_22], T0, '192.168.0.100'), message: /192\.168\.0\.100 is outside the private network 10\.9\.0\.0\/24/ },
    { name: "from the gateway's own private address", code: 'address-outside-private-network', call: (r) => reg(r, 'w1', [TCP_22], T0, '10.9.0.1'), message: /excluded/ },
    { name: 'from the broadcast address', code: 'address-outside-private-network', call: (r) => reg(r, 'w1', [TCP_22], T0, '10.9.0.255'), message: /broadcast/ },
    { name: 'from an IPv6 peer', code: 'bad-request', call: (r) => reg(r, 'w1', [TCP_22], T0, 'fd00::1'), message: /not IPv4/ },
    { name: 'no peer address', code: 'bad-request', call: (r) => r.register('w1', secretOf('w1'), {} as never, [TCP_22], T0), message: /peer address is missing/ },
    { name: 'services not a list', code: 'bad-request', call: (r) => reg(r, 'w1', 'tcp/22' as never), message: /services must be a list/ },
    { name: 'port 0', code: 'bad-request', call: (r) => reg(r, 'w1', [{ port: 0, protocol: 'tcp' }]), message: /services\[0\]\.port/ },
    { name: 'port 65536', code: 'bad-request', call: (r) => reg(r, 'w1', [TCP_22, { port: 65536, protocol: 'tcp' }]), message: /services\[1\]\.port/ },
    { name: 'port as a string', code: 'bad-request', call: (r) => reg(r, 'w1', [{ port: '22', protocol: 'tcp' } as never]), message: /services\[0\]\.port/ },
    { name: 'unknown protocol', code: 'bad-request', call: (r) => reg(r, 'w1', [{ port: 22, protocol: 'sctp' } as never]), message: /tcp or udp/ },
    { name: 'service declared twice', code: 'bad-request', call: (r) => reg(r, 'w1', [TCP_22, UDP_123, { port: 22, protocol: 'tcp' }]), message: /tcp\/22 is declared twice/ },
    { name: 'over the default quota', code: 'quota-exceeded', over: { quota: 1 }, call: (r) => reg(r, 'w1', [TCP_22, UDP_123]), message: /2 services declared, the quota of w1 is 1/ },
    { name: "over the worker's own quota", code: 'quota-exceeded', over: { quotas: { w1: 0 } }, call: (r) => reg(r, 'w1', [TCP_22]), message: /quota of w1 is 0/ },
    { name: 'range exhausted', code: 'range-exhausted', over: { ports: [40000, 40001] }, call: (r) => reg(r, 'w1', [TCP_22, TCP_10053, { port: 80, protocol: 'tcp' }]), message: /3 new tcp ports needed, 2 free/ },
    {
      name: 'range exhausted by another worker (nothing leaked: the partial fit is not taken)',
      code: 'range-exhausted',
      over: { ports: [40000, 40002] },
      before: (r) => ok(reg(r, 'w2', [TCP_22, TCP_10053, UDP_123], T0, W2)),
      call: (r) => reg(r, 'w1', [TCP_22, TCP_10053, UDP_10053]),
      message: /2 new tcp ports needed, 1 free/,
    },
    {
      name: 'range exhausted while ports cool down',
      code: 'range-exhausted',
      over: { ports: [40000, 40000] },
      before: (r) => {
        ok(reg(r, 'w2', [TCP_22], T0, W2));
        ok(r.deregister('w2', secretOf('w2'), T0));
      },
      call: (r) => reg(r, 'w1', [TCP_22], T0 + 999),
      message: /1 new tcp ports needed, 0 free \(1 cooling down\)/,
    },
  ];

  for (const c of cases) {
    it(`${c.code}: ${c.name}`, () => {
      const r = fresh({ names: ['w1', 'w2'], ...c.over });
      c.before?.(r);
      const before = r.snapshot();
      const result = c.call(r);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.code, c.code);
      assert.match(result.message, c.message);
      assert.deepEqual(r.snapshot(), before, 'a refusal changes nothing');
      assert.ok(!('diff' in result));
      assert.ok(!JSON.stringify(result).includes('secret-of'), 'no secret in a refusal');
    });
  }

  it('a refusal names the worker, clipped and escaped for logs', () => {
    const r = fresh();
    const res = r.register(`x\n${'y'.repeat(100)}`, 'whatever', { address: W1 }, [], T0);
    assert.equal(res.ok, false);
    if (!res.ok) {
      assert.equal(res.worker, `x\\n${'y'.repeat(62)}…`);
      assert.ok(!res.message.includes('\n'));
    }
  });

  it('checks the secret before looking at the request: an impostor learns nothing about it', () => {
    const r = fresh();
    const res = r.register('w1', 'wrong-secret-wrong-secret', { address: '8.8.8.8' }, 'junk' as never, T0);
    assert.equal(res.ok || res.code, 'bad-secret');
  });
});

describe('Registry.register', () => {
  it('gives every declared service its own lease, mapped to the address the registration came from', () => {
    const r = fresh();
    const res = ok(reg(r, 'w1', [UDP_10053, TCP_10053, TCP_22]));
    assert.deepEqual(
      res.leases.map((l) => [l.worker, l.protocol, l.target.address, l.target.port]),
      [
        ['w1', 'tcp', W1, 22],
        ['w1', 'tcp', W1, 10053],
        ['w1', 'udp', W1, 10053],
      ],
    );
    assert.deepEqual(res.diff.add, res.leases);
    assert.deepEqual(res.diff.remove, []);
    for (const l of res.leases) assert.ok(l.publicPort >= 40000 && l.publicPort <= 40099);
    assert.equal(new Set(ports(res.leases.filter((l) => l.protocol === 'tcp'))).size, 2);
  });

  it('never maps to an address named in the request body', () => {
    const r = fresh();
    const services = [{ ...TCP_22, address: '192.168.0.1', target: '192.168.0.1' }] as unknown as Service[];
    const res = ok(r.register('w1', secretOf('w1'), { address: W1, ...{ claimed: '192.168.0.1' } } as never, services, T0));
    assert.equal(res.leases[0].target.address, W1);
    assert.deepEqual(Object.keys(res.leases[0].target), ['address', 'port']);
  });

  it('unwraps an IPv4-mapped IPv6 peer address', () => {
    const res = ok(reg(fresh(), 'w1', [TCP_22], T0, `::ffff:${W1}`));
    assert.equal(res.leases[0].target.address, W1);
  });

  it('is idempotent: the same declaration keeps the same public ports and changes nothing', () => {
    const r = fresh();
    const first = ok(reg(r, 'w1', [TCP_22, UDP_123]));
    const again = ok(reg(r, 'w1', [UDP_123, TCP_22], T0 + 10));
    assert.deepEqual(again.leases, first.leases);
    assert.deepEqual(again.diff, { add: [], remove: [] });
  });

  it('adds new services and releases undeclared ones, keeping the rest', () => {
    const r = fresh();
    const first = ok(reg(r, 'w1', [TCP_22, UDP_123]));
    const second = ok(reg(r, 'w1', [TCP_22, TCP_10053], T0 + 10));
    const kept = first.leases.find((l) => l.target.port === 22)!;
    assert.equal(second.leases.find((l) => l.target.port === 22), kept);
    assert.deepEqual(second.diff.remove, [first.leases.find((l) => l.protocol === 'udp')]);
    assert.deepEqual(second.diff.add, [second.leases.find((l) => l.target.port === 10053)]);
  });

  it('a worker that moved keeps its public ports; the diff retargets them (remove old, add new)', () => {
    const r = fresh();
    const first = ok(reg(r, 'w1', [TCP_22, UDP_123]));
    const moved = ok(reg(r, 'w1', [TCP_22, UDP_123], T0 + 10, W2));
    assert.deepEqual(ports(moved.leases), ports(first.leases));
    assert.deepEqual(moved.diff.remove, first.leases);
    assert.deepEqual(moved.diff.add, moved.leases);
    assert.ok(moved.leases.every((l) => l.target.address === W2));
  });

  it('an empty declaration releases everything but keeps the registration alive', () => {
    const r = fresh();
    const first = ok(reg(r, 'w1', [TCP_22]));
    const empty = ok(reg(r, 'w1', [], T0 + 1));
    assert.deepEqual(empty.diff.remove, first.leases);
    assert.equal(r.workers().length, 1);
    assert.equal(ok(r.heartbeat('w1', secretOf('w1'), { address: W1 }, T0 + 2)).leases.length, 0);
  });

  it('TCP and UDP public ports are separate: one port number can serve both protocols', () => {
    const r = fresh({ ports: [40000, 40000] });
    const res = ok(reg(r, 'w1', [TCP_10053, UDP_10053]));
    assert.deepEqual(ports(res.leases), [40000, 40000]);
  });

  it('quota counts declared services, not new ones: re-registering at the quota still works', () => {
    const r = fresh({ quota: 2 });
    ok(reg(r, 'w1', [TCP_22, UDP_123]));
    ok(reg(r, 'w1', [TCP_22, UDP_123], T0 + 1));
    ok(reg(r, 'w1', [TCP_22, TCP_10053], T0 + 2));
  });

  it('all or nothing: a refused change keeps the previous leases in place', () => {
    const r = fresh({ ports: [40000, 40001] });
    const first = ok(reg(r, 'w1', [TCP_22]));
    const res = reg(r, 'w1', [TCP_22, TCP_10053, { port: 80, protocol: 'tcp' }], T0 + 1);
    assert.equal(res.ok || res.code, 'range-exhausted');
    assert.deepEqual(r.leases(), first.leases);
  });

  it('a released port is not leased again before its cool-down ends, and is from then on', () => {
    const r = fresh({ ports: [40000, 40000], coolDownMs: 1000 });
    ok(reg(r, 'w1', [TCP_22]));
    ok(r.deregister('w1', secretOf('w1'), T0 + 5));
    const early = reg(r, 'w2', [TCP_22], T0 + 1004, W2);
    assert.equal(early.ok || early.code, 'range-exhausted');
    assert.deepEqual(ports(ok(reg(r, 'w2', [TCP_22], T0 + 1005, W2)).leases), [40000]);
  });

  it('cool-down applies to services dropped from a registration too', () => {
    const r = fresh({ ports: [40000, 40001], coolDownMs: 500 });
    const a = ok(reg(r, 'w1', [TCP_22]));
    ok(reg(r, 'w1', [], T0 + 1));
    const b = ok(reg(r, 'w1', [TCP_22], T0 + 2));
    assert.notEqual(b.leases[0].publicPort, a.leases[0].publicPort);
  });

  it('a clock that goes back counts as the latest time seen', () => {
    const r = fresh({ coolDownMs: 1000, ports: [40000, 40000] });
    ok(reg(r, 'w1', [TCP_22], T0 + 5000));
    ok(r.deregister('w1', secretOf('w1'), T0)); // released at T0 + 5000, not T0
    assert.deepEqual(r.snapshot().coolDowns, [{ protocol: 'tcp', publicPort: 40000, until: T0 + 6000 }]);
  });

  it('throws for a non-finite time and for a random function that breaks its contract', () => {
    assert.throws(() => reg(fresh(), 'w1', [TCP_22], NaN), TypeError);
    const r = new Registry(makeConfig(), { random: () => 100 });
    assert.throws(() => reg(r, 'w1', [TCP_22]), /random\(0, 100\) returned 100/);
  });
});

describe('Registry.heartbeat', () => {
  const cases: { name: string; code: RefusalCode; call: (r: Registry) => RegistryResult }[] = [
    { name: 'unknown worker', code: 'unknown-worker', call: (r) => r.heartbeat('w9', secretOf('w9'), { address: W1 }, T0 + 1) },
    { name: 'wrong secret', code: 'bad-secret', call: (r) => r.heartbeat('w1', secretOf('w2'), { address: W1 }, T0 + 1) },
    { name: 'never registered', code: 'not-registered', call: (r) => r.heartbeat('w2', secretOf('w2'), { address: W2 }, T0 + 1) },
    { name: 'from another address', code: 'address-mismatch', call: (r) => r.heartbeat('w1', secretOf('w1'), { address: W2 }, T0 + 1) },
    { name: 'from no address', code: 'bad-request', call: (r) => r.heartbeat('w1', secretOf('w1'), { address: 'x' }, T0 + 1) },
  ];
  for (const c of cases) {
    it(`${c.code}: ${c.name}`, () => {
      const r = fresh();
      ok(reg(r, 'w1', [TCP_22]));
      const before = r.snapshot();
      const res = c.call(r);
      assert.equal(res.ok || res.code, c.code);
      assert.deepEqual(r.snapshot(), before);
    });
  }

  it('keeps the registration alive and returns the leases, changing no mapping', () => {
    const r = fresh({ heartbeatTimeoutMs: 3000 });
    const first = ok(reg(r, 'w1', [TCP_22]));
    const hb = ok(r.heartbeat('w1', secretOf('w1'), { address: W1 }, T0 + 2500));
    assert.deepEqual(hb.leases, first.leases);
    assert.deepEqual(hb.diff, { add: [], remove: [] });
    assert.deepEqual(r.expire(T0 + 5500).expired, []);
    assert.deepEqual(r.expire(T0 + 5501).expired, ['w1']);
  });
});

describe('Registry.expire', () => {
  it('releases the leases of workers silent for longer than the timeout, and only theirs', () => {
    const r = fresh({ heartbeatTimeoutMs: 3000 });
    const a = ok(reg(r, 'w1', [TCP_22, UDP_123]));
    ok(reg(r, 'w2', [TCP_22], T0 + 100, W2));
    assert.deepEqual(r.expire(T0 + 3000), { add: [], remove: [], expired: [] }, 'exactly the timeout is not yet older than it');
    const res = r.expire(T0 + 3001);
    assert.deepEqual(res.expired, ['w1']);
    assert.deepEqual(res.remove, a.leases);
    assert.deepEqual(r.workers().map((w) => w.name), ['w2']);
    const hb = r.heartbeat('w1', secretOf('w1'), { address: W1 }, T0 + 3002);
    assert.equal(hb.ok || hb.code, 'not-registered');
  });

  it('a registration is held until expire runs, even when stale', () => {
    const r = fresh({ heartbeatTimeoutMs: 3000 });
    const a = ok(reg(r, 'w1', [TCP_22]));
    const late = ok(reg(r, 'w1', [TCP_22], T0 + 10_000));
    assert.deepEqual(late.leases, a.leases);
    assert.deepEqual(r.expire(T0 + 10_001).expired, []);
  });
});

describe('Registry.deregister and evict', () => {
  it('deregister releases everything; again is a no-op', () => {
    const r = fresh();
    const a = ok(reg(r, 'w1', [TCP_22, UDP_123]));
    assert.deepEqual(ok(r.deregister('w1', secretOf('w1'), T0 + 1)).diff, { add: [], remove: a.leases });
    assert.deepEqual(ok(r.deregister('w1', secretOf('w1'), T0 + 2)).diff, { add: [], remove: [] });
    assert.deepEqual(r.leases(), []);
  });

  it('deregister needs the secret', () => {
    const r = fresh();
    ok(reg(r, 'w1', [TCP_22]));
    const res = r.deregister('w1', secretOf('w2'), T0 + 1);
    assert.equal(res.ok || res.code, 'bad-secret');
    assert.equal(r.leases().length, 1);
  });

  it('evict drops a registration without the secret, for the gateway itself', () => {
    const r = fresh();
    const a = ok(reg(r, 'w1', [TCP_22]));
    assert.deepEqual(r.evict('w1', T0 + 1), { add: [], remove: a.leases });
    assert.deepEqual(r.evict('w1', T0 + 1), { add: [], remove: [] });
  });
});

describe('Registry views', () => {
  it('lists leases and workers in canonical order, counts ports, and never exposes a secret', () => {
    const r = fresh({ ports: [40000, 40009], coolDownMs: 1000 });
    ok(reg(r, 'w2', [TCP_22], T0, W2));
    ok(reg(r, 'w1', [UDP_123, TCP_22]));
    ok(reg(r, 'w1', [TCP_22], T0 + 1));
    assert.deepEqual(r.leases().map((l) => `${l.worker} ${l.protocol}/${l.target.port}`), ['w1 tcp/22', 'w2 tcp/22']);
    assert.deepEqual(r.workers().map((w) => [w.name, w.address, w.lastSeen, w.leases.length]), [
      ['w1', W1, T0 + 1, 1],
      ['w2', W2, T0, 1],
    ]);
    assert.deepEqual(r.stats(), { registered: 2, leases: 2, free: { tcp: 8, udp: 9 }, coolingDown: { tcp: 0, udp: 1 } });
    const everything = JSON.stringify([r.snapshot(), r.workers(), r.leases(), r.stats()]);
    assert.ok(!everything.includes('secret') && !everything.includes('sha256'));
  });
});
