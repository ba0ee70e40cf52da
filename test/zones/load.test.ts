import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadZoneFolder } from '../../src/zones/index.js';

import { fixture, problemsOf } from '../support/fixtures.js';
import { REPO_ROOT } from '../support/repo.js';

describe('loadZoneFolder', () => {
  it('loads the shipped zones in file-name order', () => {
    const zones = loadZoneFolder(join(REPO_ROOT, 'zones'));
    assert.deepEqual(zones.map((z) => z.origin), ['0.168.192.in-addr.arpa', '1.64.100.in-addr.arpa', 'gwa.demo']);
    const fwd = zones[2];
    assert.equal(fwd.file, join(REPO_ROOT, 'zones', 'gwa.demo.zone'));
    assert.deepEqual(fwd.soa.data, {
      mname: 'ns1.gwa.demo', rname: 'hostmaster.gwa.demo', serial: 2026010101, refresh: 3600, retry: 600, expire: 86400, minimum: 60,
    });
    assert.deepEqual(fwd.records.map((r) => [r.name, r.type, r.ttl, r.data]), [
      ['gwa.demo', 'SOA', 60, fwd.soa.data],
      ['gwa.demo', 'NS', 60, 'ns1.gwa.demo'],
      ['ns1.gwa.demo', 'A', 60, '100.64.1.130'],
      ['gw.gwa.demo', 'A', 60, '100.64.1.130'],
    ]);
    const ptr = (z: (typeof zones)[number]) => z.records.filter((r) => r.type === 'PTR').map((r) => [r.name, r.data]);
    assert.deepEqual(ptr(zones[0]), [['1.0.168.192.in-addr.arpa', 'gw.gwa.demo']]);
    assert.deepEqual(ptr(zones[1]), [['130.1.64.100.in-addr.arpa', 'gw.gwa.demo']]);
    for (const z of zones) assert.ok(z.records.some((r) => r.type === 'NS' && r.name === z.origin), z.origin);
  });

  it('reports two files with the same origin (one from the file name, one from $ORIGIN)', () => {
    const problems = problemsOf(() => loadZoneFolder(fixture('zones-dup-origin')));
    assert.deepEqual(problems, [{
      file: join(fixture('zones-dup-origin'), 'copy.zone'),
      path: [],
      line: 3,
      reason: `zone a.demo is also defined by ${join(fixture('zones-dup-origin'), 'a.demo.zone')}`,
    }]);
  });

  it('reports every problem of every file', () => {
    const problems = problemsOf(() => loadZoneFolder(fixture('zones-broken')));
    const a = join(fixture('zones-broken'), 'a.demo.zone');
    const b = join(fixture('zones-broken'), 'b.demo.zone');
    assert.deepEqual(problems.map((p) => [p.file, p.line]), [[a, 7], [b, undefined], [b, undefined], [b, 3]]);
    assert.match(problems[0].reason, /CNAME at www.a.demo cannot coexist/);
    assert.match(problems[1].reason, /no SOA record for b.demo/);
    assert.match(problems[2].reason, /no NS record at the apex b.demo/);
    assert.match(problems[3].reason, /not an IPv4 address/);
  });

  it('reports a folder without zone files and a missing folder', () => {
    assert.match(problemsOf(() => loadZoneFolder(fixture('zones-empty')))[0].reason, /no \*\.zone files/);
    assert.match(problemsOf(() => loadZoneFolder(fixture('no-such-folder')))[0].reason, /cannot read the zone folder/);
  });
});
