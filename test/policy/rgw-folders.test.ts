// Folders shaped like Realm Gateway's own config.d/gwa.demo.subscriber.d and gwa.cesproto.re2ee.org.subscriber.d
// (without nest.yaml): an operator moving from Realm Gateway brings them unmodified.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { crossCheck, loadPolicyFolder, parsePolicyFiles } from '../../src/policy/index.js';
import { parseZoneText, type Zone } from '../../src/zones/index.js';
import { fixture } from '../support/fixtures.js';

function zone(origin: string, extra = ''): Zone {
  const text = `$ORIGIN ${origin}.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n${extra}`;
  const r = parseZoneText(text, `${origin}.zone`);
  assert.deepEqual(r.problems, []);
  return r.zone!;
}

const FOLDERS = [
  { name: 'rgw-subscribers-demo', origin: 'realm-a.test', hosts: 8, services: 13 + 3 * 3 + 3 * 11, proxied: 2 + 3 * 2 + 3 },
  { name: 'rgw-subscribers-carrier', origin: 'realm-b.example', hosts: 14, services: 12 + 3 * 3 + 3 * 11 + 5 * 7 + 3, proxied: 2 + 3 * 2 + 3 + 5 + 2 },
];

describe("Realm Gateway's own subscriber folders", () => {
  for (const f of FOLDERS) {
    it(`${f.name} loads and passes crossCheck once a proxy is available`, () => {
      const p = loadPolicyFolder(fixture(f.name));
      assert.equal(p.hosts.size, f.hosts);
      assert.equal(p.services.size, f.services);
      assert.deepEqual(p.merges, []);
      assert.deepEqual(crossCheck(p, [zone(f.origin)], { proxyAvailable: true, carriergradeAvailable: false }), []);
    });

    it(`${f.name}: without a proxy, only its proxy_required names are refused`, () => {
      const got = crossCheck(loadPolicyFolder(fixture(f.name)), [zone(f.origin)], { proxyAvailable: false });
      assert.equal(got.length, f.proxied);
      for (const p of got) {
        assert.equal(p.path.at(-1), 'proxy_required');
        assert.match(p.reason, /the config has no 'proxy:' section/);
      }
    });
  }

  it('the demo folder warns about autobind and timeout, at their file, line and key path', () => {
    const dir = fixture('rgw-subscribers-demo');
    const p = loadPolicyFolder(dir);
    const key = 'kappa.realm-a.test.';
    assert.deepEqual(p.warnings.map((w) => [w.file, w.line, w.path]), [
      [join(dir, 'kappa.yaml'), 24, [key, 'SFQDN', 11, 'autobind']],
      [join(dir, 'kappa.yaml'), 24, [key, 'SFQDN', 11, 'timeout']],
    ]);
    assert.equal(p.services.get('udp4321.kappa.realm-a.test')?.loosePacket, 3);
    assert.equal(p.services.get('udp4322.kappa.realm-a.test')?.loosePacket, -1);
    assert.equal(p.services.get('udp4322.kappa.realm-a.test')?.lifetimeMs, undefined, "timeout is not taken as 'lifetime'");
    assert.equal(p.services.get('ssh.kappa.realm-a.test')?.loosePacket, 0);
  });

  it('the carrier folder has nothing to warn about; CARRIERGRADE and the list form of CIRCULARPOOL load', () => {
    const p = loadPolicyFolder(fixture('rgw-subscribers-carrier'));
    assert.deepEqual(p.warnings, []);
    assert.deepEqual(p.hosts.get('kappa.realm-b.example')?.carrierGrade.map((c) => c.ipv4), ['10.78.0.100', '10.78.0.10', '10.78.0.11', '10.78.0.12']);
    assert.equal(p.hosts.get('nu003.realm-b.example')?.circularPoolMax, 3);
  });

  it('misspelt keys in such a folder are errors with file, line and key path; the warnings still come', () => {
    const dir = fixture('rgw-subscribers-demo');
    const files = readdirSync(dir).sort().map((n) => {
      const text = readFileSync(join(dir, n), 'utf8');
      return { file: n, text: n === 'kappa.yaml' ? text.replace('autobind:', 'autobnid:').replace("'hashlimit-burst'", "'hashlimit-brust'") : text };
    });
    const r = parsePolicyFiles(files);
    assert.equal(r.policy, undefined);
    assert.deepEqual(r.problems.map((p) => [p.file, p.line, p.path, p.reason]), [
      ['kappa.yaml', 24, ['kappa.realm-a.test.', 'SFQDN', 11, 'autobnid'], "unknown key 'autobnid' (did you mean 'autobind'?)"],
      ['kappa.yaml', 28, ['kappa.realm-a.test.', 'FIREWALL', 'FIREWALL_ADMIN', 0, 'hashlimit', 'hashlimit-brust'], "unknown key 'hashlimit-brust' (did you mean 'hashlimit-burst'?)"],
    ]);
    assert.deepEqual(r.warnings.map((w) => w.path.at(-1)), ['timeout']);
  });

  it("the gateway's own entry may sit at the zone apex, but not beside an address record there", () => {
    const p = loadPolicyFolder(fixture('rgw-subscribers-demo'));
    const got = crossCheck(p, [zone('realm-a.test', '@ IN A 203.0.113.1\n')], { proxyAvailable: true });
    assert.equal(got.length, 1);
    assert.deepEqual([got[0].path, got[0].line], [['realm-a.test.', 'ID', 'fqdn', 0], 5]);
    assert.match(got[0].reason, /realm-a.test also has static records in realm-a.test.zone:6/);
  });

  it('a service name may not be a zone apex, even the apex host listing its own name', () => {
    const r = parsePolicyFiles([{ file: 'p.yaml', text: "realm-a.test.:\n    ID: {ipv4: ['203.0.113.1']}\n    SFQDN:\n        - {fqdn: 'realm-a.test.'}\n" }]);
    const got = crossCheck(r.policy!, [zone('realm-a.test')], { proxyAvailable: true });
    assert.deepEqual(got.map((p) => [p.path, p.line]), [[['realm-a.test.', 'SFQDN', 0, 'fqdn'], 4]]);
    assert.match(got[0].reason, /is a zone apex/);
  });
});
