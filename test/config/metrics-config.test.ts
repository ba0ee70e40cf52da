// The `metrics:` section: the listener is accepted on a LAN or loopback address and refused, with file, line,
// key and reason, on 0.0.0.0 and on every address the config makes public.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText, type HostFacts } from '../../src/config/load-config.js';
import { formatProblem, InputError } from '../../src/errors.js';
import { BASE } from '../support/config-text.js';

const HOST: HostFacts = { ephemeral: [32768, 60999] };
const FILE = '/etc/realmgw/gateway.yaml';
const PUBLIC = `stun:
  listen: { address: 100.64.1.130 }
  alternate: { address: 100.64.1.134 }
workers:
  publicAddress: 100.64.1.135
  privateAddress: 10.200.0.1
  privateNetwork: 10.200.0.0/24
  api: { listen: { address: 10.200.0.1, port: 4780 } }
  ports: [20000, 20999]
  stateFile: state.json
dataplane:
  wan: { interface: wan0 }
  lan: { interface: lan0, network: 192.168.0.0/24 }
forwards:
  rules:
    - { name: ssh, protocol: tcp, port: 2222, address: 100.64.1.136, to: { address: 192.168.0.100, port: 22 } }
`;
const METRICS_LINE = BASE.split("\n").length + PUBLIC.split("\n").length; // `listen:` sits on the line after `metrics:`

const withMetrics = (address: string, port = 9470) => `${BASE}${PUBLIC}metrics:\n  listen: { address: ${address}, port: ${port} }\n`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, FILE, HOST);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.problems.map(formatProblem);
  }
  assert.fail('expected an InputError');
}

test('a LAN or loopback address is accepted, with the connection cap defaulted', () => {
  for (const address of ['192.168.0.1', '127.0.0.1']) {
    const c = parseConfigText(withMetrics(address), FILE, HOST);
    assert.deepEqual(c.metrics, { listen: { address, port: 9470 }, maxConnections: 16 });
  }
});

test('every WAN address of the config is refused, naming what makes it public', () => {
  const cases: [string, string][] = [
    ['100.64.1.130', 'is a WAN DNS listener (dns.wan.listen[0])'],
    ['100.64.1.132', 'is a pool address (pool.addresses)'],
    ['100.64.1.134', 'is the second STUN address (stun.alternate.address)'],
    ['100.64.1.135', "is the workers' public address (workers.publicAddress)"],
    ['100.64.1.136', "is a forward's public address (forwards.rules[0].address)"],
  ];
  for (const [address, why] of cases) {
    assert.deepEqual(problems(withMetrics(address)), [`${FILE}:${METRICS_LINE}: metrics.listen.address: must not be a WAN address: ${address} ${why}`], address);
  }
});

test('0.0.0.0 is refused: it includes the WAN addresses', () => {
  assert.deepEqual(problems(withMetrics('0.0.0.0')), [`${FILE}:${METRICS_LINE}: metrics.listen.address: must be one address of the LAN or loopback: 0.0.0.0 includes the WAN addresses`]);
});

test('a port realmgw already listens on at that address is refused', () => {
  assert.deepEqual(problems(withMetrics('10.200.0.1', 4780)), [`${FILE}:${METRICS_LINE}: metrics.listen.port: 10.200.0.1:4780 is already realmgw's workers API (workers.api.listen)`]);
});

test('unknown keys and a missing port are schema errors', () => {
  assert.match(problems(`${BASE}metrics:\n  listen: { address: 127.0.0.1 }\n`).join('\n'), /metrics\.listen\.port: /);
  assert.match(problems(`${BASE}metrics:\n  listen: { address: 127.0.0.1, port: 9470 }\n  lisen: 1\n`).join('\n'), /metrics\.lisen: Unrecognized key/);
});
