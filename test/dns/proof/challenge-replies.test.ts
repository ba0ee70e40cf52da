import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { parseQuery } from '../../../src/dns/wire/parse-query.js';
import { badCookieReply, cnameChallengeReply, cnameChallengeSize, maxUnprovenReply, truncatedReply } from '../../../src/dns/proof/challenge-replies.js';

function query(name: string, opts: { edns?: boolean; cookie?: Buffer } = {}) {
  const packet = dnsPacket.encode({
    type: 'query',
    id: 4321,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name, class: 'IN' }],
    additionals: opts.edns || opts.cookie ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: opts.cookie ? [{ code: 10, data: opts.cookie }] : [] } as unknown as dnsPacket.Answer] : [],
  });
  const parsed = parseQuery(packet);
  assert.equal(parsed.kind, 'query');
  return { packet, query: (parsed as { query: import('../../../src/dns/wire/parse-query.js').Query }).query };
}

const OPTS = { udpPayloadSize: 1232 };

test('TC=1 reply: question only, the client spelling, ID and RD echoed, OPT kept', () => {
  const { packet, query: q } = query('WWW.HostA.gwa.demo', { edns: true });
  const reply = truncatedReply(q, OPTS);
  const d = dnsPacket.decode(reply);
  assert.equal(d.id, 4321);
  assert.ok(d.flags! & dnsPacket.TRUNCATED_RESPONSE);
  assert.ok(d.flags! & dnsPacket.RECURSION_DESIRED);
  assert.equal(d.questions![0].name, 'WWW.HostA.gwa.demo');
  assert.equal(d.answers!.length, 0);
  assert.equal(d.additionals![0].type, 'OPT');
  assert.ok(reply.length <= packet.length);
});

test('BADCOOKIE: extended rcode 23 and the cookie option, within 1.5x of a cookie query', () => {
  const client = Buffer.from('0102030405060708', 'hex');
  const { packet, query: q } = query('hosta.gwa.demo', { cookie: client });
  const cookie = Buffer.concat([client, Buffer.alloc(16, 0xab)]);
  const reply = badCookieReply(q, { ...OPTS, cookie });
  const d = dnsPacket.decode(reply) as dnsPacket.Packet & { rcode?: string };
  assert.equal(reply.readUInt16BE(2) & 0xf, 23 & 0xf);
  const opt = d.additionals![0] as unknown as { extendedRcode: number; options: { code: number; data: Buffer }[] };
  assert.equal(opt.extendedRcode, 1);
  assert.deepEqual(opt.options[0], { code: 10, type: 'COOKIE', data: cookie });
  assert.ok(reply.length <= maxUnprovenReply(packet.length));
});

test('CNAME challenge: compressed into the question, fits 1.5x of a typical resolver query', () => {
  const { packet, query: q } = query('www.hosta.gwa.demo', { edns: true });
  const reply = cnameChallengeReply(q, 'abcdefgh', 'gwa.demo', OPTS);
  const d = dnsPacket.decode(reply);
  assert.ok(d.flags! & dnsPacket.AUTHORITATIVE_ANSWER);
  assert.deepEqual(
    (d.answers as { name: string; type: string; ttl: number; data: unknown }[]).map((a) => [a.name, a.type, a.ttl, a.data]),
    [['www.hosta.gwa.demo', 'CNAME', 0, 'abcdefgh.gwa.demo']],
  );
  assert.ok(reply.length <= maxUnprovenReply(packet.length), `${reply.length} > 1.5 x ${packet.length}`);
  assert.equal(cnameChallengeSize(q, 8, 'gwa.demo', OPTS), reply.length, 'the size known before an alias is spent');
});

test('CNAME challenge into a zone that is not a suffix of the question: spelt out', () => {
  const { packet, query: q } = query('www.hosta.gwa.demo', { edns: true });
  const d = dnsPacket.decode(cnameChallengeReply(q, 'abcdefgh', 'alias.other.demo', OPTS));
  assert.equal((d.answers![0] as { data: unknown }).data, 'abcdefgh.alias.other.demo');
  const cookie = Buffer.alloc(24, 7);
  const withCookie = cnameChallengeReply(q, 'abcdefgh', 'alias.other.demo', { ...OPTS, cookie });
  assert.equal(cnameChallengeSize(q, 8, 'alias.other.demo', { ...OPTS, cookie }), withCookie.length);
  assert.deepEqual((dnsPacket.decode(withCookie).additionals![0] as unknown as { options: { data: Buffer }[] }).options[0].data, cookie);
});
