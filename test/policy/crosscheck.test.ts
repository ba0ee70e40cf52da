import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { crossCheck, loadPolicyFolder, parsePolicyFiles, type PolicySet, type SubscriberHost } from '../../src/policy/index.js';
import { loadZoneFolder, parseZoneText, type Zone } from '../../src/zones/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const ZONE_TEXT = `$ORIGIN gwa.demo.
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
  IN NS ns1
ns1 IN A 100.64.1.130
gw IN A 100.64.1.130
`;
const REVERSE_TEXT = `$ORIGIN 0.168.192.in-addr.arpa.
$TTL 60
@ IN SOA ns1.gwa.demo. hostmaster.gwa.demo. 1 3600 600 86400 60
  IN NS ns1.gwa.demo.
`;
const ZONES: Zone[] = [parseZoneText(ZONE_TEXT, 'gwa.demo.zone').zone!, parseZoneText(REVERSE_TEXT, 'rev.zone').zone!];

function policy(...texts: string[]): PolicySet {
  const r = parsePolicyFiles(texts.map((text, i) => ({ file: `p${i}.yaml`, text })));
  assert.deepEqual(r.problems, []);
  return r.policy!;
}

describe('crossCheck', () => {
  it('passes the shipped zones and demo policies', () => {
    const zones = loadZoneFolder(join(ROOT, 'zones'));
    const p = loadPolicyFolder(join(ROOT, 'policies', 'gwa.demo'));
    assert.deepEqual(crossCheck(p, zones), []);
  });

  const A = "a.gwa.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n";
  const cases: { name: string; texts: string[]; want: { file: string; path: (string | number)[]; line?: number; reason: RegExp }[] }[] = [
    {
      name: 'ID fqdn outside every forward zone (a reverse zone does not count)',
      texts: ["x.other.demo.:\n    ID: {ipv4: ['192.168.0.1']}\n"],
      want: [{ file: 'p0.yaml', path: ['x.other.demo.', 'ID', 'fqdn', 0], line: 1, reason: /x.other.demo is not inside any loaded forward zone \(zones: gwa.demo\)/ }],
    },
    {
      name: 'suffix without a label boundary is outside',
      texts: [`${A}    SFQDN:\n        - {fqdn: 'www.xgwa.demo.'}\n`],
      want: [{ file: 'p0.yaml', path: ['a.gwa.demo.', 'SFQDN', 0, 'fqdn'], line: 4, reason: /www.xgwa.demo is not inside/ }],
    },
    {
      name: 'name that also has static records',
      texts: [`${A}    SFQDN:\n        - {fqdn: 'gw.gwa.demo.'}\n`],
      want: [{ file: 'p0.yaml', path: ['a.gwa.demo.', 'SFQDN', 0, 'fqdn'], line: 4, reason: /gw.gwa.demo also has static records in gwa.demo.zone:6/ }],
    },
    {
      name: 'SFQDN claimed by two hosts',
      texts: [`${A}    SFQDN:\n        - {fqdn: 'www.gwa.demo.'}\n`, "b.gwa.demo.:\n    ID: {ipv4: ['192.168.0.2']}\n    SFQDN:\n        - {fqdn: 'www.gwa.demo.'}\n"],
      want: [{ file: 'p1.yaml', path: ['b.gwa.demo.', 'SFQDN', 0, 'fqdn'], line: 4, reason: /www.gwa.demo is also claimed by host a.gwa.demo/ }],
    },
    {
      name: 'private address claimed by two hosts (ID and CARRIERGRADE)',
      texts: [A, "b.gwa.demo.:\n    ID: {ipv4: ['192.168.0.2', '192.168.0.1']}\nc.gwa.demo.:\n    ID: {ipv4: ['192.168.0.3']}\n    CARRIERGRADE: [{ipv4: 192.168.0.2}]\n"],
      want: [
        { file: 'p1.yaml', path: ['b.gwa.demo.', 'ID', 'ipv4', 1], line: 2, reason: /192.168.0.1 is also claimed by host a.gwa.demo/ },
        { file: 'p1.yaml', path: ['c.gwa.demo.', 'CARRIERGRADE', 0, 'ipv4'], line: 5, reason: /192.168.0.2 is also claimed by host b.gwa.demo/ },
      ],
    },
    {
      name: 'ICMP name with a port',
      texts: [`${A}    SFQDN:\n        - {fqdn: 'icmp.a.gwa.demo.', protocol: 1, port: 7}\n`],
      want: [{ file: 'p0.yaml', path: ['a.gwa.demo.', 'SFQDN', 0, 'port'], line: 4, reason: /protocol 1 has no ports; port must be 0, not 7/ }],
    },
    {
      name: 'carriergrade name without CARRIERGRADE addresses',
      texts: [`${A}    SFQDN:\n        - {fqdn: 'nest.a.gwa.demo.', carriergrade: true}\n`],
      want: [{ file: 'p0.yaml', path: ['a.gwa.demo.', 'SFQDN', 0, 'carriergrade'], line: 4, reason: /is carriergrade but host a.gwa.demo has no CARRIERGRADE addresses/ }],
    },
    {
      name: 'proxy_required UDP name',
      texts: [`${A}    SFQDN:\n        - {fqdn: 'sip.a.gwa.demo.', proxy_required: true, protocol: 17, port: 5060}\n`],
      want: [{ file: 'p0.yaml', path: ['a.gwa.demo.', 'SFQDN', 0, 'proxy_required'], line: 4, reason: /the proxy relays TCP only/ }],
    },
    {
      name: 'both carriergrade and proxy_required',
      texts: [`${A}    CARRIERGRADE: [{ipv4: 192.168.0.9}]\n    SFQDN:\n        - {fqdn: 'x.a.gwa.demo.', proxy_required: true, carriergrade: true}\n`],
      want: [{ file: 'p0.yaml', path: ['a.gwa.demo.', 'SFQDN', 0, 'proxy_required'], line: 5, reason: /cannot be both carriergrade and proxy_required/ }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = crossCheck(policy(...c.texts), ZONES);
      assert.equal(got.length, c.want.length, JSON.stringify(got, null, 1));
      got.forEach((p, i) => {
        const w = c.want[i];
        assert.deepEqual([p.file, p.path, p.line], [w.file, w.path, w.line]);
        assert.match(p.reason, w.reason);
      });
    });
  }

  it('reports proxy_required names only when told that no proxy is configured', () => {
    const p = policy(`${A}    SFQDN:\n        - {fqdn: 'www.a.gwa.demo.', proxy_required: true}\n`);
    assert.deepEqual(crossCheck(p, ZONES), []);
    assert.deepEqual(crossCheck(p, ZONES, { proxyAvailable: true }), []);
    assert.match(crossCheck(p, ZONES, { proxyAvailable: false })[0].reason, /the config has no 'proxy:' section/);
  });

  it('works on hosts built in code (no source lines)', () => {
    const host: SubscriberHost = {
      id: 'h.other.demo', fqdns: ['h.other.demo'], ipv4: '192.168.0.1', ipv4s: ['192.168.0.1'], msisdn: [], groups: [],
      carrierGrade: [], services: [], firewall: { admin: [], user: [] }, file: 'mem',
    };
    const got = crossCheck({ hosts: new Map([[host.id, host]]), services: new Map(), merges: [], warnings: [] }, ZONES);
    assert.deepEqual(got, [{ file: 'mem', path: ['h.other.demo.', 'ID', 'fqdn', 0], reason: 'h.other.demo is not inside any loaded forward zone (zones: gwa.demo)' }]);
  });
});
