// The gateway config's `forwards:` section through the config loader: resolved forwards, and every conflict
// as file:line: key.path: reason, all at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText, type HostFacts } from '../../src/config/load-config.js';
import { formatProblem, InputError } from '../../src/errors.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { BASE } from '../support/config-text.js';

const HOST: HostFacts = { ephemeral: [32768, 60999] };
const FILE = '/etc/realmgw/gateway.yaml';
const DATAPLANE = `dataplane:
  wan: { interface: wan0 }
  lan: { interface: lan0, network: 192.168.0.0/24 }
`;
const BASE_LINES = BASE.split('\n').length - 1 + DATAPLANE.split('\n').length - 1;

function problems(text: string): string[] {
  try {
    parseConfigText(`${BASE}${DATAPLANE}${text}`, FILE, HOST);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.problems.map(formatProblem);
  }
  assert.fail('expected an InputError');
}

test('forwards are resolved onto the service address by default', () => {
  const c = parseConfigText(
    `${BASE}${DATAPLANE}forwards:
  innerAddress: 192.168.0.1
  rules:
    - { name: ssh-hosta, protocol: tcp, port: 2222, to: { address: 192.168.0.100, port: 22 } }
    - { name: ntp-hosta, protocol: udp, port: [1123, 1124], to: { address: 192.168.0.100, port: 123 }, mode: fullnat }
`,
    FILE,
    HOST,
  );
  assert.deepEqual(c.forwards, [
    { name: 'ssh-hosta', protocol: 'tcp', address: parseIpv4('100.64.1.130'), first: 2222, last: 2222, toAddress: parseIpv4('192.168.0.100'), toPort: 22, allowFrom: [] },
    { name: 'ntp-hosta', protocol: 'udp', address: parseIpv4('100.64.1.130'), first: 1123, last: 1124, toAddress: parseIpv4('192.168.0.100'), toPort: 123, snatTo: parseIpv4('192.168.0.1'), allowFrom: [] },
  ]);
  assert.deepEqual(parseConfigText(`${BASE}${DATAPLANE}`, FILE, HOST).forwards, []);
});

test('conflicts name the file, the line and the key', () => {
  assert.deepEqual(
    problems(`forwards:
  rules:
    - name: dns
      protocol: udp
      port: 53
      to: { address: 192.168.0.100, port: 53 }
    - name: pool
      protocol: tcp
      port: 80
      address: 100.64.1.132
      to: { address: 192.168.0.100, port: 80 }
      mode: fullnat
`),
    [
      `${FILE}:${BASE_LINES + 5}: forwards.rules[0].port: udp 53 on 100.64.1.130 is realmgw's own DNS (dns.wan.listen[0]) listener`,
      `${FILE}:${BASE_LINES + 12}: forwards.rules[1].mode: fullnat needs forwards.innerAddress (the gateway's address on the inner network, the source the host sees)`,
      `${FILE}:${BASE_LINES + 10}: forwards.rules[1].address: 100.64.1.132 is a pool address: pool addresses are DNATed per reservation, never forwarded`,
    ],
  );
});
