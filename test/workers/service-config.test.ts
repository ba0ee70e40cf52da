// The gateway config's `workers:` and `stun:` sections: defaults, the mapping onto WorkersConfig, and every
// problem reported as file:line: key.path: reason (host facts injected, so the ephemeral check is testable).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText, workersConfigOf, type HostFacts } from '../../src/config/load-config.js';
import { InputError, formatProblem } from '../../src/errors.js';
import { hashOf } from './support.js';
import { BASE } from '../support/config-text.js';

const HOST: HostFacts = { ephemeral: [32768, 60999] };


function workers(over = ''): string {
  return `${BASE}stun:
  listen: { address: 100.64.1.130 }
  alternate: { address: 100.64.1.134, port: 3479 }
workers:
  publicAddress: 100.64.1.130
  privateAddress: 10.77.0.1
  privateNetwork: 10.77.0.0/24
  api:
    listen: { address: 10.77.0.1 }
  ports: [20000, 20999]
  stateFile: state/workers.json
  workers:
    - { name: worker1, secretHash: "${hashOf('worker1')}" }
    - { name: worker2, secretHash: "${hashOf('worker2')}", quota: 2 }
${over}`;
}

function problems(text: string, host = HOST): string[] {
  try {
    parseConfigText(text, '/etc/realmgw/gw.yaml', host);
  } catch (err) {
    if (err instanceof InputError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

test('a workers section with defaults maps onto the registry config', () => {
  const c = parseConfigText(workers(), '/etc/realmgw/gw.yaml', HOST);
  const w = c.workers!;
  assert.equal(w.backend, 'nftables');
  assert.deepEqual(w.api.listen, { address: '10.77.0.1', port: 4780 });
  assert.equal(w.stateFile, '/etc/realmgw/state/workers.json', 'relative to the config file');
  assert.deepEqual([w.quota, w.heartbeatMs, w.heartbeatTimeoutMs, w.coolDownMs], [8, 10_000, 35_000, 60_000]);
  assert.deepEqual(c.stun, { listen: { address: '100.64.1.130', port: 3478 }, alternate: { address: '100.64.1.134', port: 3479 } });
  const rc = workersConfigOf(w);
  assert.deepEqual(rc.excludedAddresses, ['10.77.0.1'], "the gateway's private address is never a target");
  assert.deepEqual(rc.workers.map((x) => [x.name, x.quota]), [['worker1', undefined], ['worker2', 2]]);
  assert.equal(parseConfigText(BASE, '/x.yaml', HOST).workers, undefined, 'optional');
});

test('port range problems: inside the ephemeral range, holding a listener port, malformed', () => {
  const eph = problems(workers().replace('[20000, 20999]', '[32000, 33000]'));
  assert.equal(eph.length, 1);
  assert.match(eph[0], /^\/etc\/realmgw\/gw\.yaml:\d+: workers\.ports: 32768-33000 is inside the local ephemeral range 32768-60999/);
  assert.deepEqual(problems(workers().replace('[20000, 20999]', '[32000, 33000]'), { ephemeral: [40000, 50000] }), [], 'host facts decide');
  const dns = problems(workers().replace('[20000, 20999]', '[50, 100]'));
  assert.match(dns.join('\n'), /workers\.ports: holds ports already in use on the gateway: 53/);
  const stun = problems(workers().replace('[20000, 20999]', '[3000, 4000]'));
  assert.match(stun.join('\n'), /workers\.ports: holds ports already in use on the gateway: 3478, 3479/);
  assert.match(problems(workers().replace('[20000, 20999]', '[2000, 1000]')).join('\n'), /workers\.ports: starts at 2000 but ends at 1000/);
  assert.match(problems(workers().replace('[20000, 20999]', '[20000]')).join('\n'), /workers\.ports/);
});

test('address, worker and timing problems name the key and its line', () => {
  const text = workers()
    .replace('privateAddress: 10.77.0.1', 'privateAddress: 10.78.0.1')
    .replace('listen: { address: 10.77.0.1 }', 'listen: { address: 100.64.1.130 }')
    .replace('name: worker2', 'name: Worker_2')
    .replace(`secretHash: "${hashOf('worker1')}"`, 'secretHash: "my-plain-secret-123"')
    .replace('stateFile:', 'heartbeatMs: 40000\n  stateFile:');
  const got = problems(text);
  const lineOf = (needle: string, after = 0) => text.split('\n').findIndex((l, i) => i >= after && l.includes(needle)) + 1;
  assert.ok(got.includes(`/etc/realmgw/gw.yaml:${lineOf('privateAddress: 10.78')}: workers.privateAddress: 10.78.0.1 is outside the private network 10.77.0.0/24`), got.join('\n'));
  assert.ok(got.some((l) => l.startsWith(`/etc/realmgw/gw.yaml:${lineOf('listen: { address: 100.64', lineOf('api:'))}: workers.api.listen.address: must be an address on the private network`)), got.join('\n'));
  assert.ok(got.some((l) => /workers\.workers\[1\]\.name: "Worker_2" is not a DNS label/.test(l)), got.join('\n'));
  assert.ok(got.some((l) => /workers\.workers\[0\]\.secretHash: is not a hash made by hashSecret/.test(l)), got.join('\n'));
  assert.ok(!got.join('\n').includes('my-plain-secret-123'), 'a pasted secret is never echoed');
  assert.ok(got.some((l) => /workers\.heartbeatTimeoutMs: must be longer than heartbeatMs \(40000\)/.test(l)), got.join('\n'));
});

test('unknown keys and a public address from the pool are refused', () => {
  assert.match(problems(workers('  heartbeatMS: 5\n')).join('\n'), /:\d+: workers\.heartbeatMS: .*[Uu]nrecognized key/);
  assert.match(problems(workers().replace('publicAddress: 100.64.1.130', 'publicAddress: 100.64.1.132')).join('\n'), /workers\.publicAddress: must not be a pool address/);
  assert.match(problems(workers().replace('backend: ', '').replace('workers:\n  publicAddress', 'workers:\n  backend: lvs\n  publicAddress')).join('\n'), /workers\.backend/);
  const stun = problems(workers().replace('alternate: { address: 100.64.1.134, port: 3479 }', 'alternate: { address: 100.64.1.130, port: 3478 }'));
  assert.match(stun.join('\n'), /stun\.alternate\.address: must be another address/);
  assert.match(stun.join('\n'), /stun\.alternate\.port: must differ/);
});
