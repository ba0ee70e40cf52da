import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { parseQuery, RCODE } from '../../src/dns/wire/parse-query.js';

function query(name: string, type: dnsPacket.RecordType = 'A', extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra });
}

test('reads id, canonical lowercase name, type and class', () => {
  const r = parseQuery(query('WwW.HostA.GWA.demo', 'AAAA'));
  assert.equal(r.kind, 'query');
  if (r.kind !== 'query') return;
  assert.equal(r.query.id, 4242);
  assert.equal(r.query.question.name, 'www.hosta.gwa.demo');
  assert.equal(r.query.question.type, 28);
  assert.equal(r.query.question.class, 1);
  assert.equal(r.query.question.spelling.length, 20);
  assert.equal(r.query.edns, undefined);
});

test('root question is the empty name', () => {
  const r = parseQuery(query('.', 'NS'));
  assert.equal(r.kind === 'query' && r.query.question.name, '');
});

test('EDNS0: size, DO bit and IPv4 client subnet', () => {
  const buf = query('a.gwa.demo', 'A', {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4000, flags: dnsPacket.DNSSEC_OK, options: [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' }] } as unknown as dnsPacket.Answer],
  });
  const r = parseQuery(buf);
  assert.equal(r.kind, 'query');
  if (r.kind !== 'query') return;
  assert.deepEqual(r.query.edns, {
    udpSize: 4000, version: 0, dnssecOk: true,
    ecs: { family: 1, sourcePrefix: 24, scopePrefix: 0, address: Buffer.from([198, 51, 100]) },
    clientSubnet: { address: 0xc6336400, sourcePrefix: 24 },
  });
});

test('drops packets too short for a header and responses', () => {
  assert.equal(parseQuery(Buffer.alloc(11)).kind, 'drop');
  const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'a', type: 'A', class: 'IN' }] });
  assert.equal(parseQuery(resp).kind, 'drop');
});

const cases: [string, (b: Buffer) => Buffer, number][] = [
  ['no question', (b) => { b.writeUInt16BE(0, 4); return b.subarray(0, 12); }, RCODE.FORMERR],
  ['two questions', (b) => { b.writeUInt16BE(2, 4); return b; }, RCODE.FORMERR],
  ['question cut short', (b) => b.subarray(0, b.length - 2), RCODE.FORMERR],
  ['label runs past the end', (b) => { b[12] = 60; return b; }, RCODE.FORMERR],
  ['forward compression pointer (loop)', (b) => { b[12] = 0xc0; b[13] = 12; return b; }, RCODE.FORMERR],
  ['obsolete extended label type', (b) => { b[12] = 0x41; return b; }, RCODE.FORMERR],
  ['opcode STATUS', (b) => { b.writeUInt16BE(2 << 11, 2); return b; }, RCODE.NOTIMP],
  ['additional count with no record', (b) => { b.writeUInt16BE(1, 10); return b; }, RCODE.FORMERR],
];
for (const [name, mangle, rcode] of cases) {
  test(`malformed: ${name} -> rcode ${rcode}`, () => {
    const r = parseQuery(mangle(query('x.gwa.demo')));
    assert.equal(r.kind, 'error');
    assert.equal(r.kind === 'error' && r.rcode, rcode);
  });
}

test('two OPT records are FORMERR, EDNS version 1 is BADVERS', () => {
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer;
  const two = parseQuery(query('x.gwa.demo', 'A', { additionals: [opt, opt] }));
  assert.equal(two.kind === 'error' && two.rcode, RCODE.FORMERR);
  const v1 = parseQuery(query('x.gwa.demo', 'A', { additionals: [{ ...opt, ednsVersion: 1 } as dnsPacket.Answer] }));
  assert.equal(v1.kind === 'error' && v1.rcode, RCODE.BADVERS);
  assert.ok(v1.kind === 'error' && v1.query, 'BADVERS keeps the question to echo it');
});

test('an additional record whose owner is a pointer back to the question name is legal', () => {
  const base = query('A.gwa.demo');
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
  const buf = Buffer.concat([base, rr]);
  buf.writeUInt16BE(1, 10);
  const r = parseQuery(buf);
  assert.equal(r.kind, 'query');
});

test('never throws on random garbage', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
  for (let i = 0; i < 20000; i++) {
    const len = rnd() % 80;
    const buf = Buffer.alloc(len);
    for (let j = 0; j < len; j++) buf[j] = rnd();
    if (len > 2) buf[2] &= 0x7f; // mostly queries, so parsing goes deep
    assert.doesNotThrow(() => parseQuery(buf));
  }
});

test('the 20-byte query whose question points into its own label content is FORMERR, not a throw', () => {
  // Offset 12 holds a label length (1), 13 its content byte, 14-15 a pointer to 13: into the label, not onto one.
  const buf = Buffer.from('123401000001000000000000' + '0100c00d' + '00010001', 'hex');
  assert.equal(buf.length, 20);
  const r = parseQuery(buf);
  assert.equal(r.kind, 'error');
  assert.equal(r.kind === 'error' && r.rcode, RCODE.FORMERR);
  assert.equal(r.kind === 'error' && r.id, 0x1234);
});

test('any compression pointer in the question is FORMERR: into the header, onto its own label start, into a label', () => {
  for (const name of ['c005', '0161c00c', '0161c00d', '01610162c00e']) {
    const buf = Buffer.from('123401000001000000000000' + name + '00010001', 'hex');
    const r = parseQuery(buf);
    assert.equal(r.kind === 'error' && r.rcode, RCODE.FORMERR, name);
  }
});

test('wire forms of the question name: as the client spelt it (a view of the packet) and lowercase', () => {
  const packet = query('WwW.HostA.GWA.demo');
  const r = parseQuery(packet);
  assert.equal(r.kind, 'query');
  if (r.kind !== 'query') return;
  const { spelling, wire } = r.query.question;
  assert.equal(spelling.toString('latin1'), '\x03WwW\x05HostA\x03GWA\x04demo\x00');
  assert.equal(spelling.buffer, packet.buffer, 'a view of the packet, not a copy');
  assert.equal(spelling.byteOffset, packet.byteOffset + 12);
  assert.equal(wire.toString('latin1'), '\x03www\x05hosta\x03gwa\x04demo\x00');
  assert.equal(r.query.question.wire, wire, 'lowered once');
});

test('a name with escaped bytes: canonical text escapes them, the wire forms keep them', () => {
  const packet = Buffer.from('123401000001000000000000' + '03412e62' + '0243ff' + '00' + '00010001', 'hex'); // labels "A.b" and "C", 0xff
  const r = parseQuery(packet);
  assert.equal(r.kind, 'query');
  if (r.kind !== 'query') return;
  assert.equal(r.query.question.name, 'a\\.b.c\\255');
  assert.equal(r.query.question.spelling.toString('hex'), '03412e620243ff00');
  assert.equal(r.query.question.wire.toString('hex'), '03612e620263ff00');
});

function withOption(code: number, data: Buffer): Buffer {
  return query('a.gwa.demo', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code, data }] } as unknown as dnsPacket.Answer] });
}

test('COOKIE: client alone, client and server, and every other length is FORMERR (RFC 7873 §5.2.2)', () => {
  const client = Buffer.from('0102030405060708', 'hex');
  const alone = parseQuery(withOption(10, client));
  assert.equal(alone.kind, 'query');
  assert.deepEqual(alone.kind === 'query' && alone.query.edns?.cookie, { client });
  for (const serverLen of [8, 20, 32]) {
    const server = Buffer.alloc(serverLen, 0xab);
    const both = parseQuery(withOption(10, Buffer.concat([client, server])));
    assert.deepEqual(both.kind === 'query' && both.query.edns?.cookie, { client, server }, `server ${serverLen}`);
  }
  for (const len of [0, 1, 7, 9, 15, 41, 64]) {
    const r = parseQuery(withOption(10, Buffer.alloc(len, 1)));
    assert.equal(r.kind === 'error' && r.rcode, RCODE.FORMERR, `length ${len}`);
    assert.ok(r.kind === 'error' && r.query, 'the question is kept to echo it');
  }
});

test('client subnet of both families is kept raw for echo; IPv4 also as a number', () => {
  const v4 = parseQuery(withOption(8, Buffer.from('00011800c63364', 'hex')));
  assert.equal(v4.kind, 'query');
  if (v4.kind !== 'query') return;
  assert.deepEqual(v4.query.edns?.ecs, { family: 1, sourcePrefix: 24, scopePrefix: 0, address: Buffer.from('c63364', 'hex') });
  assert.deepEqual(v4.query.edns?.clientSubnet, { address: 0xc6336400, sourcePrefix: 24 });
  const v6 = parseQuery(withOption(8, Buffer.from('00023800' + '20010db8000001', 'hex')));
  assert.equal(v6.kind, 'query');
  if (v6.kind !== 'query') return;
  assert.deepEqual(v6.query.edns?.ecs, { family: 2, sourcePrefix: 56, scopePrefix: 0, address: Buffer.from('20010db8000001', 'hex') });
  assert.equal(v6.query.edns?.clientSubnet, undefined);
  for (const bad of ['00018100' + '0102030405', '00023800' + '2001', '0001', '00011400' + 'c63364' /* /20 with bits past 20 */]) {
    const r = parseQuery(withOption(8, Buffer.from(bad, 'hex')));
    assert.equal(r.kind === 'error' && r.rcode, RCODE.FORMERR, bad);
  }
});
