import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { buildTemplate, instantiate, minimalTruncated } from '../../src/dns/wire/encode-response.js';
import { addressSlot, QUESTION_NAME, type ResponseSpec } from '../../src/dns/wire/response-spec.js';
import { parseQuery, RCODE, type Query } from '../../src/dns/wire/parse-query.js';

function packetOf(name: string, edns?: { size?: number; options?: unknown[] }): Buffer {
  return dnsPacket.encode({
    type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: 'A', class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: edns.size ?? 1232, options: edns.options ?? [] } as unknown as dnsPacket.Answer] : [],
  });
}

function parsed(packet: Buffer): Query {
  const r = parseQuery(packet);
  assert.equal(r.kind, 'query');
  return (r as { query: Query }).query;
}

const answer: ResponseSpec = {
  rcode: 0, authoritative: true, answers: [{ name: QUESTION_NAME, type: 'A', ttl: 60, data: '192.0.2.1' }], authorities: [], additionals: [],
};

type Opt = { code: number; data: Buffer; family?: number; sourcePrefixLength?: number; scopePrefixLength?: number; ip?: string };
const optOf = (buf: Buffer) => {
  const msg = dnsPacket.decode(buf);
  const opt = msg.additionals!.find((a) => a.type === 'OPT') as unknown as { options: Opt[]; extendedRcode: number } | undefined;
  return { msg, opt };
};

const cookie = Buffer.concat([Buffer.from('0102030405060708', 'hex'), Buffer.alloc(16, 0xee)]);

test('instantiate appends COOKIE and an ECS echo to the OPT of a cached template and fixes its length', () => {
  const packet = packetOf('WwW.gwa.demo', { options: [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' }] });
  const q = parsed(packet);
  const t = buildTemplate(q, answer, { udpPayloadSize: 1232 });
  const out = instantiate(t, q, 1232, undefined, { cookie, ecs: { ...q.edns!.ecs!, scopePrefix: 0 } });
  assert.equal(out.length, t.full.length + 4 + cookie.length + 4 + 4 + 3);
  const { msg, opt } = optOf(out);
  assert.equal(msg.id, 4242);
  assert.equal(msg.questions![0].name, 'WwW.gwa.demo');
  assert.equal(msg.answers![0].name, 'WwW.gwa.demo');
  assert.equal((msg.answers![0] as dnsPacket.StringAnswer).data, '192.0.2.1');
  assert.equal(opt!.options.length, 2);
  assert.equal(opt!.options[0].code, 10);
  assert.deepEqual(opt!.options[0].data, cookie);
  assert.equal(opt!.options[1].code, 8);
  assert.equal(opt!.options[1].family, 1);
  assert.equal(opt!.options[1].sourcePrefixLength, 24);
  assert.equal(opt!.options[1].scopePrefixLength, 0);
  assert.equal(opt!.options[1].ip, '198.51.100.0');
  // The template itself is untouched: the next client gets its own options.
  assert.equal(optOf(instantiate(t, q, 1232)).opt!.options.length, 0);
});

test('IPv6 ECS is echoed with the scope the caller gives', () => {
  const packet = packetOf('a.gwa.demo', { options: [{ code: 'CLIENT_SUBNET', family: 2, sourcePrefixLength: 56, scopePrefixLength: 0, ip: '2001:db8:0:100::' }] });
  const q = parsed(packet);
  const t = buildTemplate(q, answer, { udpPayloadSize: 1232 });
  const { opt } = optOf(instantiate(t, q, 1232, undefined, { ecs: { ...q.edns!.ecs!, scopePrefix: 48 } }));
  assert.equal(opt!.options[0].family, 2);
  assert.equal(opt!.options[0].sourcePrefixLength, 56);
  assert.equal(opt!.options[0].scopePrefixLength, 48);
  assert.equal(opt!.options[0].ip, '2001:db8:0:100::');
});

test('without EDNS in the query there is no OPT, so per-query options are not sent', () => {
  const packet = packetOf('a.gwa.demo');
  const q = parsed(packet);
  const t = buildTemplate(q, answer, { udpPayloadSize: 1232 });
  const out = instantiate(t, q, 512, undefined, { cookie });
  assert.deepEqual(out.subarray(4), t.full.subarray(4)); // all but ID and the echoed flag bits
});

test('options count against the UDP limit: over it the truncated form carries them', () => {
  const packet = packetOf('a.gwa.demo', { size: 512 });
  const q = parsed(packet);
  const t = buildTemplate(q, answer, { udpPayloadSize: 1232 });
  const limit = t.full.length + 10; // room for the template, not for a 28-byte cookie option
  const out = instantiate(t, q, limit, undefined, { cookie });
  const { msg, opt } = optOf(out);
  assert.ok(msg.flags! & 0x0200, 'TC');
  assert.equal(msg.answers!.length, 0);
  assert.deepEqual(opt!.options[0].data, cookie);
});

test('BADCOOKIE (23) is header rcode 7 plus OPT extended rcode 1', () => {
  const packet = packetOf('a.gwa.demo', { options: [{ code: 10, data: cookie.subarray(0, 8) }] });
  const q = parsed(packet);
  assert.equal(RCODE.BADCOOKIE, 23);
  const spec: ResponseSpec = { rcode: RCODE.BADCOOKIE, authoritative: false, answers: [], authorities: [], additionals: [] };
  const out = instantiate(buildTemplate(q, spec, { udpPayloadSize: 1232 }), q, 1232, undefined, { cookie });
  assert.equal(out[3] & 0xf, 7);
  const { opt } = optOf(out);
  assert.equal(opt!.extendedRcode, 1);
  assert.equal((opt!.extendedRcode << 4) | (out[3] & 0xf), 23);
  assert.deepEqual(opt!.options[0].data, cookie);
});

test('minimal truncated reply: header, question in the client spelling, OPT; never larger than the query plus options', () => {
  for (const edns of [undefined, { options: [{ code: 10, data: cookie.subarray(0, 8) }] }]) {
    const packet = packetOf('WwW.HostA.gwa.demo', edns);
    const q = parsed(packet);
    const opts = edns ? { cookie } : undefined;
    const out = minimalTruncated(q, { udpPayloadSize: 1232, authoritative: true }, opts);
    assert.ok(out.length <= packet.length + (edns ? 4 + cookie.length : 0), `${out.length} vs ${packet.length}`);
    const { msg, opt } = optOf(out);
    assert.equal(msg.id, 4242);
    assert.ok(msg.flags! & 0x0200, 'TC');
    assert.ok(msg.flags! & dnsPacket.RECURSION_DESIRED, 'RD echoed');
    assert.ok(msg.flags! & dnsPacket.AUTHORITATIVE_ANSWER, 'AA');
    assert.equal(msg.questions![0].name, 'WwW.HostA.gwa.demo');
    assert.equal(msg.answers!.length + msg.authorities!.length, 0);
    if (edns) assert.deepEqual(opt!.options[0].data, cookie);
    else assert.equal(opt, undefined);
  }
});

test('one template, two clients: each gets its own spelling wherever the spec says QUESTION_NAME, and its own address in the slot', () => {
  const spec: ResponseSpec = {
    rcode: 0, authoritative: true, answers: [{ name: QUESTION_NAME, type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: 80, target: '_80._tcp.www.gwa.demo' } }],
    authorities: [], additionals: [{ name: 'ns1.gwa.demo', type: 'A', ttl: 60, data: '192.0.2.1' }, addressSlot(QUESTION_NAME, 0)],
  };
  const first = parsed(packetOf('_80._TCP.www.gwa.demo'));
  const t = buildTemplate(first, spec, { udpPayloadSize: 1232 });
  assert.equal(t.nameOffsets.length, 3, 'the question, the SRV owner and the slot owner');
  const second = parsed(packetOf('_80._tcp.WWW.GWA.demo'));
  const { msg } = optOf(instantiate(t, second, 1232, 0x64400183));
  assert.deepEqual(msg.questions!.map((q) => q.name), ['_80._tcp.WWW.GWA.demo']);
  assert.deepEqual(msg.answers!.map((rr) => rr.name), ['_80._tcp.WWW.GWA.demo']);
  assert.deepEqual(msg.additionals!.map((rr) => [rr.name, (rr as dnsPacket.StringAnswer).data]), [['ns1.gwa.demo', '192.0.2.1'], ['_80._tcp.WWW.GWA.demo', '100.64.1.131']]);
  assert.equal((optOf(instantiate(t, second, 1232, 0x64400184)).msg.additionals![1] as dnsPacket.StringAnswer).data, '100.64.1.132');
});

test('an A record of the zone is not a slot: an address passed with it changes nothing', () => {
  const q = parsed(packetOf('a.gwa.demo'));
  const t = buildTemplate(q, answer, { udpPayloadSize: 1232 });
  assert.equal(t.addressOffset, -1);
  assert.deepEqual(instantiate(t, q, 512, 0x64400183), instantiate(t, q, 512));
});

test('a truncated answer drops the records, slot included', () => {
  const spec: ResponseSpec = {
    rcode: 0, authoritative: true, answers: [{ name: QUESTION_NAME, type: 'TXT', ttl: 0, data: ['x'.repeat(200), 'y'.repeat(200), 'z'.repeat(200)] }, addressSlot(QUESTION_NAME, 0)],
    authorities: [], additionals: [],
  };
  const q = parsed(packetOf('A.gwa.demo'));
  const { msg } = optOf(instantiate(buildTemplate(q, spec, { udpPayloadSize: 1232 }), q, 512, 0x64400183));
  assert.ok(msg.flags! & 0x0200, 'TC');
  assert.deepEqual([msg.questions![0].name, msg.answers!.length], ['A.gwa.demo', 0]);
});
