import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type WorkersConfig, addressRefusal, checkWorkersConfig, compileConfig } from '../../src/workers/config.js';
import { WorkersConfigError } from '../../src/workers/errors.js';
import { Registry } from '../../src/workers/registry.js';
import { makeConfig, secretOf } from './support.js';

describe('checkWorkersConfig', () => {
  it('accepts the fixture', () => assert.deepEqual(checkWorkersConfig(makeConfig()), []));

  const cases: { name: string; change: Partial<WorkersConfig>; path: (string | number)[]; reason: RegExp }[] = [
    { name: 'inverted ports', change: { ports: [2, 1] }, path: ['ports'], reason: /before it/ },
    { name: 'ports out of bounds', change: { ports: [0, 10] }, path: ['ports'], reason: /outside 1-65535/ },
    { name: 'network not CIDR', change: { privateNetwork: '10.9.0.0' }, path: ['privateNetwork'], reason: /CIDR/ },
    { name: 'network with host bits', change: { privateNetwork: '10.9.0.5/24' }, path: ['privateNetwork'], reason: /host bits/ },
    { name: 'network /0 (anyone would do)', change: { privateNetwork: '0.0.0.0/0' }, path: ['privateNetwork'], reason: /CIDR/ },
    { name: 'excluded address not IPv4', change: { excludedAddresses: ['gw'] }, path: ['excludedAddresses', 0], reason: /not an IPv4/ },
    { name: 'negative quota', change: { quota: -1 }, path: ['quota'], reason: />= 0/ },
    { name: 'fractional quota', change: { quota: 1.5 }, path: ['quota'], reason: /whole/ },
    { name: 'negative cool-down', change: { coolDownMs: -1 }, path: ['coolDownMs'], reason: />= 0/ },
    { name: 'infinite cool-down', change: { coolDownMs: Infinity }, path: ['coolDownMs'], reason: /finite/ },
    { name: 'zero heartbeat timeout', change: { heartbeatTimeoutMs: 0 }, path: ['heartbeatTimeoutMs'], reason: /> 0/ },
    { name: 'worker name not a label', change: { workers: [{ name: 'Worker_1', secretHash: makeConfig().workers[0].secretHash }] }, path: ['workers', 0, 'name'], reason: /DNS label/ },
    { name: 'worker listed twice', change: { workers: [makeConfig().workers[0], makeConfig().workers[0]] }, path: ['workers', 1, 'name'], reason: /twice/ },
    { name: 'per-worker quota', change: { workers: [{ ...makeConfig().workers[0], quota: -3 }] }, path: ['workers', 0, 'quota'], reason: /whole/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = checkWorkersConfig(makeConfig(c.change));
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.deepEqual(problems[0].path, c.path);
      assert.match(problems[0].reason, c.reason);
    });
  }

  it('a secret pasted where its hash belongs is refused without being echoed', () => {
    const problems = checkWorkersConfig(makeConfig({ workers: [{ name: 'w1', secretHash: secretOf('w1') }] }));
    assert.deepEqual(problems.map((p) => p.path), [['workers', 0, 'secretHash']]);
    assert.ok(!JSON.stringify(problems).includes(secretOf('w1')));
  });

  it('the registry refuses an invalid config with every problem at once', () => {
    assert.throws(
      () => new Registry(makeConfig({ quota: -1, coolDownMs: -1, privateNetwork: 'x' })),
      (e: unknown) => e instanceof WorkersConfigError && e.code === 'RGW_WORKERS_CONFIG' && e.problems.length === 3,
    );
  });
});

describe('addressRefusal', () => {
  const config = compileConfig(makeConfig());
  const cases: [string, RegExp | undefined][] = [
    ['10.9.0.10', undefined],
    ['10.9.0.254', undefined],
    ['10.9.1.10', /outside the private network 10.9.0.0\/24/],
    ['192.168.0.100', /outside/],
    ['10.9.0.0', /network or broadcast/],
    ['10.9.0.255', /network or broadcast/],
    ['10.9.0.1', /excluded/],
  ];
  for (const [address, reason] of cases) {
    it(`${address}: ${reason ?? 'allowed'}`, () => {
      const r = addressRefusal(config, address);
      if (reason === undefined) assert.equal(r, undefined);
      else assert.match(r ?? '', reason);
    });
  }

  it('a /31 or /32 private network has no network or broadcast address', () => {
    assert.equal(addressRefusal(compileConfig(makeConfig({ privateNetwork: '10.9.0.4/31', excludedAddresses: [] })), '10.9.0.4'), undefined);
    assert.equal(addressRefusal(compileConfig(makeConfig({ privateNetwork: '10.9.0.7/32', excludedAddresses: [] })), '10.9.0.7'), undefined);
  });
});
