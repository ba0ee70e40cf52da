/** Shared fixtures for the worker registry tests: a seeded RNG, configs with hashed secrets. */
import type { RandomInt } from '../../src/workers/port-allocator.js';
import type { WorkersConfig } from '../../src/workers/config.js';
import { hashSecret } from '../../src/workers/secret.js';

/** mulberry32: a small deterministic generator; `randomInt(min, max)` like crypto.randomInt. */
export function seededRandom(seed: number): RandomInt {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (min, max) => min + Math.floor(next() * (max - min));
}

/** Secrets are derived from the name so tests can state them; 22+ characters as hashSecret requires. */
export function secretOf(name: string): string {
  return `secret-of-${name}-0123456789abcdef`;
}

const SALT = Buffer.alloc(16, 7);
const hashes = new Map<string, string>();

export function hashOf(name: string): string {
  let h = hashes.get(name);
  if (h === undefined) hashes.set(name, (h = hashSecret(secretOf(name), SALT)));
  return h;
}

export const NET = '10.9.0.0/24';
export const GW_PRIVATE = '10.9.0.1';

export function makeConfig(over: Partial<WorkersConfig> & { names?: string[]; quotas?: Record<string, number> } = {}): WorkersConfig {
  const { names = ['w1', 'w2'], quotas = {}, ...rest } = over;
  return {
    ports: [40000, 40099],
    privateNetwork: NET,
    excludedAddresses: [GW_PRIVATE],
    quota: 5,
    coolDownMs: 1000,
    heartbeatTimeoutMs: 3000,
    workers: names.map((name) => (quotas[name] === undefined ? { name, secretHash: hashOf(name) } : { name, secretHash: hashOf(name), quota: quotas[name] })),
    ...rest,
  };
}

export const TCP_10053 = { port: 10053, protocol: 'tcp' } as const;
export const UDP_10053 = { port: 10053, protocol: 'udp' } as const;
export const TCP_22 = { port: 22, protocol: 'tcp' } as const;
export const UDP_123 = { port: 123, protocol: 'udp' } as const;
