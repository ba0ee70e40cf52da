import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { buildTemplate, instantiate } from '../../src/dns/wire/encode-response.js';
import { addressSlot, ADDRESS_SLOT, QUESTION_NAME, type AnswerRecord, type ResponseSpec } from '../../src/dns/wire/response-spec.js';
import { parseQuery, type Query } from '../../src/dns/wire/parse-query.js';
import { formatIpv4 } from '../../src/util/ipv4.js';

// A template built for one client's query and filled for another's is, byte for byte, what dns-packet encodes
// for the second client's answer: the second client's ID, RD/CD bits and spelling of the name wherever the
// spec says QUESTION_NAME, the reserved address in the slot, its own EDNS options. dns-packet is the
// independent reference (it never compresses names, and neither do our templates).

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
const otherName = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => `${ls.join('.')}.other.demo`);
const owner = fc.oneof(fc.constant<AnswerRecord['name']>(QUESTION_NAME), otherName);
const ttl = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const record: fc.Arbitrary<AnswerRecord> = fc
  .tuple(
    owner,
    ttl,
    fc.oneof(
      fc.record({ type: fc.constant('A'), data: fc.ipV4() }),
      fc.record({ type: fc.constant('TXT'), data: fc.array(fc.stringMatching(/^[ -~]{0,20}$/), { minLength: 1, maxLength: 3 }) }),
      fc.record({ type: fc.constant('CNAME'), data: otherName }),
      fc.record({ type: fc.constant('MX'), data: fc.record({ preference: fc.nat(65535), exchange: otherName }) }),
      fc.record({ type: fc.constant('SRV'), data: fc.record({ priority: fc.nat(65535), weight: fc.nat(65535), port: fc.nat(65535), target: otherName }) }),
    ),
  )
  .map(([name, t, rr]) => ({ name, ttl: t, ...rr }));
const records = fc.array(record, { maxLength: 4 });

/** One client's query for the question (same EDNS presence and DO: the cache key of a template). */
const client = (name: string, edns: { dnssecOk: boolean } | null) =>
  fc.record({
    spelling: fc.mixedCase(fc.constant(name)),
    id: fc.nat(65535),
    flags: fc.constantFrom(0, dnsPacket.RECURSION_DESIRED, dnsPacket.CHECKING_DISABLED, dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED),
    udpSize: fc.integer({ min: 512, max: 4096 }),
    cookie: fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a)), { nil: undefined }),
    ecsPrefix: fc.option(fc.integer({ min: 0, max: 32 }), { nil: undefined }),
  }).map((c) => ({ ...c, edns }));
type Client = { spelling: string; id: number; flags: number; udpSize: number; cookie?: Buffer; ecsPrefix?: number; edns: { dnssecOk: boolean } | null };

const scenario = fc
  .record({
    name: fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => `${ls.join('.')}.gwa.demo`),
    type: fc.constantFrom('A', 'TXT', 'SRV', 'MX', 'ANY', 'AAAA'),
    edns: fc.option(fc.record({ dnssecOk: fc.boolean() }), { nil: null }),
    rcode: fc.constantFrom(0, 3, 5),
    authoritative: fc.boolean(),
    recursionAvailable: fc.boolean(),
    answers: records,
    authorities: records,
    additionals: records,
    slot: fc.option(fc.record({ owner, ttl, inAnswers: fc.boolean(), at: fc.nat() }), { nil: undefined }),
    address: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  })
  .chain((s) => fc.record({ s: fc.constant(s), first: client(s.name, s.edns), second: client(s.name, s.edns) }));

/** ECS of the client's own subnet: its first ceil(prefix / 8) address bytes, zero beyond the prefix. */
function ecsOf(prefix: number): { address: Buffer; ip: string } {
  const address = Buffer.alloc(Math.ceil(prefix / 8));
  const full = Buffer.from([203, 0, 113, 77]);
  full.copy(address, 0, 0, address.length);
  if (prefix % 8) address[address.length - 1] &= 0xff << (8 - (prefix % 8));
  const ip = Buffer.alloc(4);
  address.copy(ip);
  return { address, ip: [...ip].join('.') };
}

function queryOf(type: string, c: Client): { packet: Buffer; query: Query } {
  const options: unknown[] = [];
  if (c.cookie) options.push({ code: 10, data: c.cookie });
  if (c.ecsPrefix !== undefined) options.push({ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: c.ecsPrefix, scopePrefixLength: 0, ip: ecsOf(c.ecsPrefix).ip });
  const packet = dnsPacket.encode({
    type: 'query', id: c.id, flags: c.flags,
    questions: [{ name: c.spelling, type: type as dnsPacket.RecordType, class: 'IN' }],
    additionals: c.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: c.udpSize, flags: c.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0, options } as unknown as dnsPacket.Answer] : [],
  });
  const r = parseQuery(packet);
  assert.equal(r.kind, 'query');
  return { packet, query: (r as { query: Query }).query };
}

const serverCookie = Buffer.alloc(16, 0xab);

test('a template filled for a client is what dns-packet encodes for that client', () => {
  fc.assert(
    fc.property(scenario, ({ s, first, second }) => {
      const spec: ResponseSpec = { rcode: s.rcode, authoritative: s.authoritative, recursionAvailable: s.recursionAvailable, answers: s.answers, authorities: s.authorities, additionals: s.additionals };
      if (s.slot) {
        const section = s.slot.inAnswers ? [...s.answers] : [...s.additionals];
        section.splice(s.slot.at % (section.length + 1), 0, addressSlot(s.slot.owner, s.slot.ttl));
        if (s.slot.inAnswers) spec.answers = section;
        else spec.additionals = section;
      }
      const template = buildTemplate(queryOf(s.type, first).query, spec, { udpPayloadSize: 1232 });

      const { query } = queryOf(s.type, second);
      const ecs = second.ecsPrefix === undefined ? undefined : ecsOf(second.ecsPrefix);
      const cookie = second.cookie && Buffer.concat([second.cookie, serverCookie]);
      const out = instantiate(template, query, Infinity, s.address, { cookie, ecs: ecs && { family: 1, sourcePrefix: second.ecsPrefix!, scopePrefix: 0, address: ecs.address } });

      const as = (rr: AnswerRecord) =>
        ({
          name: rr.name === QUESTION_NAME ? second.spelling : rr.name,
          type: rr.type,
          class: 'IN',
          ttl: rr.ttl,
          data: rr.data === ADDRESS_SLOT ? formatIpv4(s.address) : rr.data,
        }) as dnsPacket.Answer;
      const options: unknown[] = [];
      if (cookie && second.edns) options.push({ code: 10, data: cookie });
      if (ecs && second.edns) options.push({ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: second.ecsPrefix, scopePrefixLength: 0, ip: ecs.ip });
      const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: s.edns?.dnssecOk ? dnsPacket.DNSSEC_OK : 0, options } as unknown as dnsPacket.Answer;
      let flags = second.flags | s.rcode;
      if (s.authoritative) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
      if (s.recursionAvailable) flags |= dnsPacket.RECURSION_AVAILABLE;
      const expected = dnsPacket.encode({
        type: 'response', id: second.id, flags,
        questions: [{ name: second.spelling, type: s.type as dnsPacket.RecordType, class: 'IN' }],
        answers: spec.answers.map(as),
        authorities: spec.authorities.map(as),
        additionals: [...spec.additionals.map(as), ...(s.edns ? [opt] : [])],
      });
      assert.equal(out.toString('hex'), expected.toString('hex'));
    }),
    { numRuns: 2000 },
  );
});
