import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { buildTemplate, headerOnlyError, instantiate, minimalTruncated } from '../../src/dns/wire/encode-response.js';
import { addressSlot, QUESTION_NAME, type ResponseSpec } from '../../src/dns/wire/response-spec.js';
import { parseQuery, RCODE } from '../../src/dns/wire/parse-query.js';
import { cnameChallengeReply } from '../../src/dns/proof/challenge-replies.js';

// Whatever arrives, the wire layer yields a verdict and bytes, never an exception: parse, build a template for
// it (an answer naming the question with an address slot, as allocations do), instantiate it with an address
// and per-query options, and build the minimal TC reply.

const seeds = [
  dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'WwW.HostA.gwa.demo', type: 'A', class: 'IN' }] }),
  dnsPacket.encode({
    type: 'query', id: 2, questions: [{ name: 'a.gwa.demo', type: 'TXT', class: 'IN' }],
    additionals: [{
      type: 'OPT', name: '.', udpPayloadSize: 1232,
      options: [{ code: 10, data: Buffer.alloc(24, 7) }, { code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' }],
    } as unknown as dnsPacket.Answer],
  }),
  Buffer.from('123401000001000000000000' + '0100c00d' + '00010001', 'hex'),
];

const mutated = fc
  .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat())
  .map(([seed, edits, cut]) => {
    const buf = Buffer.from(seed);
    for (const [at, value] of edits) buf[at % buf.length] = value;
    return buf.subarray(0, buf.length - (cut % 4 === 0 ? cut % buf.length : 0));
  });
const random = fc.uint8Array({ minLength: 0, maxLength: 120 }).map((a) => {
  const b = Buffer.from(a);
  if (b.length > 3) b[2] &= 0x7f; // mostly queries, so parsing goes deep
  return b;
});

function exercise(packet: Buffer): void {
  const r = parseQuery(packet);
  if (r.kind === 'drop') return;
  if (r.kind === 'error' && !r.query) {
    headerOnlyError(r.id, r.flags, r.rcode);
    return;
  }
  const query = r.kind === 'query' ? r.query : r.query!;
  const spec: ResponseSpec = {
    rcode: r.kind === 'error' ? r.rcode : RCODE.NOERROR, authoritative: true,
    answers: [{ name: QUESTION_NAME, type: 'TXT', ttl: 5, data: ['x'] }, addressSlot(QUESTION_NAME, 0)], authorities: [], additionals: [],
  };
  const t = buildTemplate(query, spec, { udpPayloadSize: 1232 });
  const ecs = query.edns?.ecs;
  const options = { cookie: query.edns?.cookie ? Buffer.concat([query.edns.cookie.client, Buffer.alloc(16, 1)]) : undefined, ecs: ecs && { ...ecs, scopePrefix: 0 } };
  for (const limit of [512, 60, Infinity]) {
    const out = instantiate(t, query, limit, 0x0a000001, options);
    dnsPacket.decode(out); // and what we send is itself well formed
  }
  const tc = minimalTruncated(query, { udpPayloadSize: 1232 }, options);
  dnsPacket.decode(tc);
  for (const zone of ['gwa.demo', 'other.demo']) dnsPacket.decode(cnameChallengeReply(query, 'abcdefgh', zone, { udpPayloadSize: 1232, cookie: options.cookie }));
}

test('parse, template, instantiate and the minimal TC reply never throw on mutated queries', () => {
  fc.assert(fc.property(mutated, (p) => assert.doesNotThrow(() => exercise(p))), { numRuns: 5000 });
});

test('... nor on random bytes', () => {
  fc.assert(fc.property(random, (p) => assert.doesNotThrow(() => exercise(p))), { numRuns: 5000 });
});
