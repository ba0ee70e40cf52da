import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';

const minimal = (dns: object) => ({
  zones: 'zones', policies: 'policies',
  dns: { wan: { listen: [{ address: '100.64.1.130' }] }, ...dns },
  pool: { serviceAddress: '100.64.1.130', addresses: ['100.64.1.131'] },
});

test('dns front limits have safe defaults: TCP bounds, RRL on, LAN forwarding capped', () => {
  const c = configSchema.parse(minimal({ lan: { listen: [{ address: '192.168.0.1' }] } }));
  assert.equal(c.dns.tcpMaxConnectionsPerSource, 16);
  assert.equal(c.dns.tcpMaxLifetimeMs, 120_000);
  assert.equal(c.dns.tcpMaxQueuedBytes, 65_536);
  assert.equal(c.dns.tcpMaxInFlight, 64);
  assert.deepEqual(c.dns.wan.rrl, { enabled: true, responsesPerSecond: 20, slip: 2, window: 15, ipv4PrefixLength: 24, ipv6PrefixLength: 56, maxTracked: 100_000 });
  assert.equal(c.dns.lan!.maxInFlight, 1000);
  assert.equal(c.dns.lan!.allowFrom, undefined, 'defaults to the data plane LAN network at start');
});

test('partial rrl settings keep the other defaults; unknown keys and bad CIDRs are refused', () => {
  const c = configSchema.parse(minimal({ wan: { listen: [{ address: '100.64.1.130' }], rrl: { slip: 0 } } }));
  assert.equal(c.dns.wan.rrl.slip, 0);
  assert.equal(c.dns.wan.rrl.responsesPerSecond, 20);
  assert.equal(configSchema.safeParse(minimal({ wan: { listen: [{ address: '100.64.1.130' }], rrl: { rate: 5 } } })).success, false);
  for (const bad of ['192.168.0.0', '192.168.0.0/33', '300.1.1.1/8']) {
    const r = configSchema.safeParse(minimal({ lan: { listen: [{ address: '192.168.0.1' }], allowFrom: [bad] } }));
    assert.equal(r.success, false, bad);
  }
  const ok = configSchema.parse(minimal({ lan: { listen: [{ address: '192.168.0.1' }], allowFrom: ['192.168.0.0/24', '10.0.0.0/8'] } }));
  assert.deepEqual(ok.dns.lan!.allowFrom, ['192.168.0.0/24', '10.0.0.0/8']);
});
