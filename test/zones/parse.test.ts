import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseZoneText } from '../../src/zones/index.js';

const HEAD = `$ORIGIN gwa.demo.
$TTL 60
@ IN SOA ns1 hostmaster ( 1 3600 600 86400 60 )
  IN NS ns1
ns1 IN A 100.64.1.130
`;
const SOA = { mname: 'ns1.gwa.demo', rname: 'hostmaster.gwa.demo', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 };

/** Records after the 3 of HEAD. */
function body(text: string) {
  const r = parseZoneText(HEAD + text, 'test.zone');
  assert.deepEqual(r.problems, []);
  return r.zone!.records.slice(3);
}

describe('parseZoneText: good input', () => {
  it('loads a whole zone to the exact model', () => {
    const r = parseZoneText(HEAD, 'gwa.demo.zone');
    assert.deepEqual(r, {
      problems: [],
      zone: {
        origin: 'gwa.demo',
        file: 'gwa.demo.zone',
        soa: { name: 'gwa.demo', type: 'SOA', ttl: 60, data: SOA, line: 3 },
        records: [
          { name: 'gwa.demo', type: 'SOA', ttl: 60, data: SOA, line: 3 },
          { name: 'gwa.demo', type: 'NS', ttl: 60, data: 'ns1.gwa.demo', line: 4 },
          { name: 'ns1.gwa.demo', type: 'A', ttl: 60, data: '100.64.1.130', line: 5 },
        ],
      },
    });
  });

  const cases: { name: string; text: string; want: { name: string; type: string; ttl: number; data: unknown; line: number }[] }[] = [
    { name: 'relative, absolute and @ names', text: 'a IN A 1.2.3.4\nb.gwa.demo. IN A 1.2.3.5\n@ IN MX 10 a\n', want: [
      { name: 'a.gwa.demo', type: 'A', ttl: 60, data: '1.2.3.4', line: 6 },
      { name: 'b.gwa.demo', type: 'A', ttl: 60, data: '1.2.3.5', line: 7 },
      { name: 'gwa.demo', type: 'MX', ttl: 60, data: { preference: 10, exchange: 'a.gwa.demo' }, line: 8 },
    ] },
    { name: 'names are lowercased', text: 'WWW.GWA.Demo. IN CNAME GW\n', want: [
      { name: 'www.gwa.demo', type: 'CNAME', ttl: 60, data: 'gw.gwa.demo', line: 6 },
    ] },
    { name: 'omitted owner is the previous owner', text: 'a IN A 1.2.3.4\n\tIN TXT hello\n', want: [
      { name: 'a.gwa.demo', type: 'A', ttl: 60, data: '1.2.3.4', line: 6 },
      { name: 'a.gwa.demo', type: 'TXT', ttl: 60, data: ['hello'], line: 7 },
    ] },
    { name: 'TTL and class in either order, TTL units', text: 'a 300 IN A 1.2.3.4\nb IN 1h30m A 1.2.3.5\nc A 1.2.3.6\n', want: [
      { name: 'a.gwa.demo', type: 'A', ttl: 300, data: '1.2.3.4', line: 6 },
      { name: 'b.gwa.demo', type: 'A', ttl: 5400, data: '1.2.3.5', line: 7 },
      { name: 'c.gwa.demo', type: 'A', ttl: 60, data: '1.2.3.6', line: 8 },
    ] },
    { name: 'quoted TXT with spaces, semicolons and escapes', text: 'a IN TXT "v=spf1; -all" "say \\"hi\\"" \\065b "\\226\\130\\172"\n', want: [
      { name: 'a.gwa.demo', type: 'TXT', ttl: 60, data: ['v=spf1; -all', 'say "hi"', 'Ab', '€'], line: 6 },
    ] },
    { name: 'parentheses across lines with comments', text: '_sip._udp IN SRV ( 10 ; priority\n  100 ; weight\n  5060 sip ) ; done\n', want: [
      { name: '_sip._udp.gwa.demo', type: 'SRV', ttl: 60, data: { priority: 10, weight: 100, port: 5060, target: 'sip.gwa.demo' }, line: 6 },
    ] },
    { name: 'AAAA, PTR, CAA', text: 'a IN AAAA 2001:DB8::1\nb IN PTR a\n@ IN CAA 0 issue "letsencrypt.org"\n', want: [
      { name: 'a.gwa.demo', type: 'AAAA', ttl: 60, data: '2001:db8::1', line: 6 },
      { name: 'b.gwa.demo', type: 'PTR', ttl: 60, data: 'a.gwa.demo', line: 7 },
      { name: 'gwa.demo', type: 'CAA', ttl: 60, data: { flags: 0, tag: 'issue', value: 'letsencrypt.org' }, line: 8 },
    ] },
    { name: 'a later $ORIGIN changes relative names only', text: '$ORIGIN sub.gwa.demo.\nx IN A 1.2.3.4\n', want: [
      { name: 'x.sub.gwa.demo', type: 'A', ttl: 60, data: '1.2.3.4', line: 7 },
    ] },
    { name: '$TTL applies to later records', text: '$TTL 120\na IN A 1.2.3.4\n', want: [
      { name: 'a.gwa.demo', type: 'A', ttl: 120, data: '1.2.3.4', line: 7 },
    ] },
    { name: 'null MX target', text: '@ IN MX 0 .\n', want: [
      { name: 'gwa.demo', type: 'MX', ttl: 60, data: { preference: 0, exchange: '' }, line: 6 },
    ] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(body(c.text), c.want));

  it('takes the origin from the default (file name) when there is no $ORIGIN', () => {
    const r = parseZoneText('$TTL 60\n@ IN SOA ns1 h 1 2 3 4 5\n IN NS ns1\nns1 IN A 1.2.3.4\n', 'x.zone', 'gwa.demo');
    assert.equal(r.zone?.origin, 'gwa.demo');
    assert.equal(r.zone?.records[2].name, 'ns1.gwa.demo');
  });

  it('prefers $ORIGIN to the default origin', () => {
    const r = parseZoneText(HEAD, 'other.zone', 'other.demo');
    assert.equal(r.zone?.origin, 'gwa.demo');
  });

  it('without $TTL uses the last explicit TTL', () => {
    const r = parseZoneText('$ORIGIN gwa.demo.\n@ 30 IN SOA ns1 h 1 2 3 4 5\n IN NS ns1\nns1 IN A 1.2.3.4\n', 'x.zone');
    assert.deepEqual(r.zone?.records.map((x) => x.ttl), [30, 30, 30]);
  });
});

describe('parseZoneText: every error class is reported with its line', () => {
  const cases: { name: string; text: string; line: number | undefined; reason: RegExp }[] = [
    { name: 'unknown type', text: 'a IN FOO bar\n', line: 6, reason: /unknown record type "FOO"/ },
    { name: 'known but unsupported type', text: 'a IN HINFO "x" "y"\n', line: 6, reason: /type HINFO is not supported/ },
    { name: 'class other than IN', text: 'a CH A 1.2.3.4\n', line: 6, reason: /class CH is not supported/ },
    { name: 'bad A data', text: 'a IN A 1.2.3.256\n', line: 6, reason: /bad A data: "1.2.3.256" is not an IPv4 address/ },
    { name: 'bad AAAA data', text: 'a IN AAAA 1.2.3.4\n', line: 6, reason: /bad AAAA data/ },
    { name: 'bad MX preference', text: 'a IN MX 70000 b\n', line: 6, reason: /bad MX data: preference must be an integer 0..65535/ },
    { name: 'missing rdata', text: 'a IN SRV 1 2 3\n', line: 6, reason: /bad SRV data: missing target/ },
    { name: 'extra rdata', text: 'a IN CNAME b c\n', line: 6, reason: /bad CNAME data: unexpected "c"/ },
    { name: 'TXT string too long', text: `a IN TXT "${'x'.repeat(256)}"\n`, line: 6, reason: /256 bytes; a character-string holds at most 255/ },
    { name: 'record outside the zone', text: 'gw.other.demo. IN A 1.2.3.4\n', line: 6, reason: /gw.other.demo is outside the zone gwa.demo/ },
    { name: 'suffix without label boundary is outside', text: 'xgwa.demo. IN A 1.2.3.4\n', line: 6, reason: /outside the zone/ },
    { name: 'second SOA', text: '@ IN SOA ns1 h 2 2 3 4 5\n', line: 6, reason: /more than one SOA record \(the first is at line 3\)/ },
    { name: 'SOA below the apex', text: 'sub IN SOA ns1 h 2 2 3 4 5\n', line: 6, reason: /SOA record at sub.gwa.demo, not at the apex/ },
    { name: 'CNAME with other data', text: 'a IN A 1.2.3.4\na IN CNAME b\n', line: 7, reason: /CNAME at a.gwa.demo cannot coexist with other data \(A at line 6\)/ },
    { name: 'two CNAMEs', text: 'a IN CNAME b\na IN CNAME c\n', line: 7, reason: /more than one CNAME/ },
    { name: 'empty label', text: 'a..b IN A 1.2.3.4\n', line: 6, reason: /empty label/ },
    { name: 'label over 63 bytes', text: `${'x'.repeat(64)} IN A 1.2.3.4\n`, line: 6, reason: /is 64 bytes; at most 63/ },
    { name: 'name over 255 bytes', text: `${Array(5).fill('y'.repeat(63)).join('.')} IN A 1.2.3.4\n`, line: 6, reason: /bytes in wire format; at most 255/ },
    { name: 'delegation', text: 'sub IN NS ns.other.\n', line: 6, reason: /delegations are not supported/ },
    { name: 'wildcard', text: '* IN A 1.2.3.4\n', line: 6, reason: /wildcard owner \*.gwa.demo is not supported/ },
    { name: 'unterminated quote', text: 'a IN TXT "abc\n', line: 6, reason: /unterminated quoted string/ },
    { name: 'unclosed parenthesis', text: 'a IN MX ( 10\nb\n', line: 6, reason: /'\(' is never closed/ },
    { name: 'stray closing parenthesis', text: 'a IN A 1.2.3.4 )\n', line: 6, reason: /'\)' without a matching '\('/ },
    { name: 'unsupported directive', text: '$INCLUDE other.zone\n', line: 6, reason: /\$INCLUDE is not supported/ },
    { name: 'duplicate record', text: 'a IN A 1.2.3.4\na IN A 1.2.3.4\n', line: 7, reason: /duplicate A record for a.gwa.demo \(also at line 6\)/ },
    { name: 'TTL differs within an RRset', text: 'a 60 IN A 1.2.3.4\na 90 IN A 1.2.3.5\n', line: 7, reason: /TTL 90 differs from TTL 60/ },
    { name: 'class keyword as owner', text: 'IN A 1.2.3.4\n', line: 6, reason: /looks like a class; indent the line/ },
    { name: 'in-zone name server without address', text: '@ IN NS ns2\n', line: 6, reason: /ns2.gwa.demo is inside the zone but has no A or AAAA record/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parseZoneText(HEAD + c.text, 'test.zone');
      assert.equal(r.zone, undefined);
      assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
      const [p] = r.problems;
      assert.equal(p.file, 'test.zone');
      assert.deepEqual(p.path, []);
      assert.equal(p.line, c.line);
      assert.match(p.reason, c.reason);
    });
  }

  it('reports a missing SOA and a missing apex NS at file level', () => {
    const r = parseZoneText('$ORIGIN gwa.demo.\n$TTL 60\na IN A 1.2.3.4\n', 'test.zone');
    assert.deepEqual(r.problems.map((p) => [p.line, p.reason]), [
      [undefined, 'no SOA record for gwa.demo'],
      [undefined, 'no NS record at the apex gwa.demo'],
    ]);
  });

  it('reports a file without any origin', () => {
    const r = parseZoneText('$TTL 60\na IN A 1.2.3.4\n', 'test.zone');
    assert.match(r.problems[0].reason, /no origin/);
  });

  it('reports a record without any TTL', () => {
    const r = parseZoneText('$ORIGIN gwa.demo.\n@ IN SOA ns1 h 1 2 3 4 5\n IN NS ns1\nns1 IN A 1.2.3.4\n', 'test.zone');
    assert.deepEqual(r.problems.map((p) => p.line), [2, 3, 4]);
    assert.match(r.problems[0].reason, /no TTL/);
  });

  it('reports several problems of one file, each with its line, in line order', () => {
    const r = parseZoneText(HEAD + 'a IN FOO x\nb IN A 999.1.1.1\nc.other. IN A 1.2.3.4\n* IN A 1.2.3.4\nd IN TXT "open\n', 'test.zone');
    assert.deepEqual(r.problems.map((p) => p.line), [6, 7, 8, 9, 10]);
  });

  it('does not cascade from a broken owner to the lines that inherit it', () => {
    const r = parseZoneText(HEAD + 'a..b IN A 1.2.3.4\n  IN TXT x\n', 'test.zone');
    assert.equal(r.problems.length, 1);
  });
});
