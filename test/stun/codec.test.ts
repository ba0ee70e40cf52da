import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { bytesToIp, ipToBytes } from '../../src/stun/address.js';
import { decode, encode, messageType, type DecodeResult, type StunMessage } from '../../src/stun/codec.js';
import { ATTR, MAGIC_COOKIE } from '../../src/stun/constants.js';
import { RFC5769_PASSWORD, RFC5769_REQUEST, RFC5769_RESPONSE_V4, RFC5769_RESPONSE_V6, RFC5769_TXID } from './vectors.js';

function ok(r: DecodeResult): StunMessage {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.reason}`);
  return r.message;
}

function errorOf(r: DecodeResult) {
  assert.ok(!r.ok, 'expected a decode error');
  return r.error;
}

/** MESSAGE-INTEGRITY of a vector, recomputed (RFC 5389 §15.4): proves the vector was typed in right. */
function integrityHolds(buf: Buffer): boolean {
  const miAt = buf.length - 8 - 24;
  const covered = Buffer.from(buf.subarray(0, miAt));
  covered.writeUInt16BE(miAt + 24 - 20, 2);
  const mac = createHmac('sha1', RFC5769_PASSWORD).update(covered).digest();
  return mac.equals(buf.subarray(miAt + 4, miAt + 24));
}

const TXID = Buffer.from('000102030405060708090a0b', 'hex');
const CLASSIC_TXID = Buffer.from('f00102030405060708090a0b0c0d0e0f', 'hex');

describe('STUN codec: RFC 5769 test vectors', () => {
  it('the vectors are intact (their MESSAGE-INTEGRITY verifies)', () => {
    for (const v of [RFC5769_REQUEST, RFC5769_RESPONSE_V4, RFC5769_RESPONSE_V6]) assert.ok(integrityHolds(v));
  });

  it('sample request: header, SOFTWARE, FINGERPRINT checked, PRIORITY reported as unknown comprehension-required', () => {
    const m = ok(decode(RFC5769_REQUEST));
    assert.equal(m.classic, false);
    assert.equal(m.cls, 'request');
    assert.equal(m.method, 0x001);
    assert.deepEqual(m.transactionId, RFC5769_TXID);
    assert.equal(m.software, 'STUN test client');
    assert.equal(m.fingerprint, true);
    assert.deepEqual(m.unknownRequired, [0x0024]);
    assert.deepEqual(m.attributes.map((a) => a.type), [ATTR.SOFTWARE, 0x0024, 0x8029, ATTR.USERNAME, ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT]);
    assert.equal(m.attributes[3]!.value.toString(), 'evtj:h6vY'); // 9 bytes, padding not part of the value
  });

  it('IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
    const m = ok(decode(RFC5769_RESPONSE_V4));
    assert.equal(m.cls, 'success');
    assert.equal(m.software, 'test vector');
    assert.equal(m.fingerprint, true);
    assert.deepEqual(m.xorMappedAddress, { family: 'IPv4', address: '192.0.2.1', port: 32853 });
  });

  it('IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = ok(decode(RFC5769_RESPONSE_V6));
    assert.deepEqual(m.xorMappedAddress, { family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  });

  it('encodes XOR-MAPPED-ADDRESS byte for byte as the vectors do', () => {
    for (const [vector, address] of [
      [RFC5769_RESPONSE_V4, '192.0.2.1'],
      [RFC5769_RESPONSE_V6, '2001:db8:1234:5678:11:2233:4455:6677'],
    ] as const) {
      const out = encode({ cls: 'success', transactionId: RFC5769_TXID, attributes: [{ type: 'xor-mapped-address', address: { family: address.includes(':') ? 'IPv6' : 'IPv4', address, port: 32853 } }] });
      const tlv = out.subarray(20);
      const at = vector.indexOf(Buffer.from([0x00, 0x20]), 20);
      assert.deepEqual(tlv, vector.subarray(at, at + tlv.length));
    }
  });

  it('any changed bit is caught: a decode error, or (type bits of FINGERPRINT itself) no fingerprint', () => {
    for (const v of [RFC5769_REQUEST, RFC5769_RESPONSE_V4, RFC5769_RESPONSE_V6]) {
      for (let i = 0; i < v.length * 8; i++) {
        const b = Buffer.from(v);
        b[i >> 3]! ^= 0x80 >> (i & 7);
        const r = decode(b);
        assert.ok(!r.ok || !r.message.fingerprint, `bit ${i} flipped went unnoticed`);
      }
      // the padding of USERNAME / SOFTWARE is covered by the CRC too
    }
  });
});

describe('STUN codec: encode / decode', () => {
  it('message types interleave method and class bits (RFC 5389 §6)', () => {
    assert.equal(messageType(1, 'request'), 0x0001);
    assert.equal(messageType(1, 'indication'), 0x0011);
    assert.equal(messageType(1, 'success'), 0x0101);
    assert.equal(messageType(1, 'error'), 0x0111);
    assert.equal(messageType(0xfff, 'error'), 0x3fff);
    for (const method of [0, 1, 2, 0x00f, 0x010, 0x07f, 0x080, 0x123, 0xfff]) {
      for (const cls of ['request', 'indication', 'success', 'error'] as const) {
        const m = ok(decode(encode({ method, cls, transactionId: TXID })));
        assert.deepEqual([m.method, m.cls], [method, cls]);
      }
    }
  });

  it('round-trips every attribute it writes, with FINGERPRINT', () => {
    const v4 = { family: 'IPv4', address: '198.51.100.7', port: 40000 } as const;
    const v6 = { family: 'IPv6', address: '2001:db8::7', port: 1 } as const;
    const buf = encode({
      cls: 'success',
      transactionId: TXID,
      attributes: [
        { type: 'xor-mapped-address', address: v6 },
        { type: 'mapped-address', address: v4 },
        { type: 'response-origin', address: { ...v4, port: 3478 } },
        { type: 'other-address', address: { ...v4, address: '198.51.100.8', port: 3479 } },
        { type: 'change-request', changeIp: true, changePort: false },
        { type: 'software', value: 'realmgw ✓' },
        { type: 'error-code', code: 420 },
        { type: 'unknown-attributes', types: [0x0024, 0x7fff, 0x0002] },
        { type: 'raw', code: 0xc001, value: Buffer.from([1, 2, 3]) },
      ],
      fingerprint: true,
    });
    assert.equal(buf.length % 4, 0);
    assert.equal(buf.readUInt32BE(4), MAGIC_COOKIE);
    const m = ok(decode(buf));
    assert.deepEqual(m.xorMappedAddress, v6);
    assert.deepEqual(m.mappedAddress, v4);
    assert.deepEqual(m.responseOrigin, { ...v4, port: 3478 });
    assert.deepEqual(m.otherAddress, { ...v4, address: '198.51.100.8', port: 3479 });
    assert.deepEqual(m.changeRequest, { changeIp: true, changePort: false });
    assert.equal(m.software, 'realmgw ✓');
    assert.deepEqual(m.errorCode, { code: 420, reason: 'Unknown Attribute' });
    assert.deepEqual(m.unknownAttributes, [0x0024, 0x7fff, 0x0002]);
    assert.deepEqual(m.attributes.at(-2)!.value, Buffer.from([1, 2, 3]));
    assert.equal(m.fingerprint, true);
    assert.deepEqual(m.unknownRequired, []);
  });

  it('classic RFC 3489 messages: no cookie, 128-bit id, CHANGED-ADDRESS / SOURCE-ADDRESS, UNKNOWN-ATTRIBUTES filled to 32 bits', () => {
    const buf = encode({
      classic: true,
      cls: 'success',
      transactionId: CLASSIC_TXID,
      attributes: [
        { type: 'mapped-address', address: { family: 'IPv4', address: '10.0.0.1', port: 5000 } },
        { type: 'source-address', address: { family: 'IPv4', address: '10.0.0.2', port: 3478 } },
        { type: 'changed-address', address: { family: 'IPv4', address: '10.0.0.3', port: 3479 } },
        { type: 'unknown-attributes', types: [0x0002] },
      ],
    });
    assert.equal(buf.length, 20 + 12 * 3 + 8);
    const m = ok(decode(buf));
    assert.equal(m.classic, true);
    assert.deepEqual(m.transactionId, CLASSIC_TXID);
    assert.deepEqual(m.mappedAddress, { family: 'IPv4', address: '10.0.0.1', port: 5000 });
    assert.deepEqual(m.sourceAddress?.port, 3478);
    assert.deepEqual(m.changedAddress?.address, '10.0.0.3');
    assert.deepEqual(m.unknownAttributes, [0x0002, 0x0002]);
    assert.equal(m.fingerprint, false);
  });

  it('classic requests carry CHANGE-REQUEST flags 0x04 (IP) and 0x02 (port)', () => {
    const buf = encode({ classic: true, cls: 'request', transactionId: CLASSIC_TXID, attributes: [{ type: 'change-request', changeIp: true, changePort: true }] });
    assert.deepEqual(buf.subarray(20), Buffer.from('0003000400000006', 'hex'));
    assert.deepEqual(ok(decode(buf)).changeRequest, { changeIp: true, changePort: true });
  });

  it('only the first of repeated attributes counts', () => {
    const a = { family: 'IPv4', address: '1.1.1.1', port: 1 } as const;
    const b = { family: 'IPv4', address: '2.2.2.2', port: 2 } as const;
    const m = ok(decode(encode({ cls: 'success', transactionId: TXID, attributes: [{ type: 'mapped-address', address: a }, { type: 'mapped-address', address: b }] })));
    assert.deepEqual(m.mappedAddress, a);
    assert.equal(m.attributes.length, 2);
  });

  it('refuses to encode what it cannot represent (programming errors)', () => {
    assert.throws(() => encode({ cls: 'request', transactionId: CLASSIC_TXID }), TypeError);
    assert.throws(() => encode({ classic: true, cls: 'request', transactionId: TXID }), TypeError);
    assert.throws(() => encode({ cls: 'success', transactionId: TXID, attributes: [{ type: 'mapped-address', address: { family: 'IPv4', address: 'host.example', port: 1 } }] }), TypeError);
    assert.throws(() => encode({ cls: 'error', transactionId: TXID, attributes: [{ type: 'error-code', code: 200 }] }), TypeError);
    assert.throws(() => encode({ cls: 'success', transactionId: TXID, attributes: [{ type: 'software', value: 'x'.repeat(764) }] }), TypeError);
  });

  it('IP text <-> bytes, IPv6 compressed as Node prints it', () => {
    for (const ip of ['0.0.0.0', '255.255.255.255', '::', '::1', '2001:db8::1', '2001:db8:0:1::', 'fe80::1:0:0:1', '1:0:0:2::3', '2001:db8:1234:5678:11:2233:4455:6677']) {
      assert.equal(bytesToIp(ipToBytes(ip)!), ip);
    }
    assert.equal(bytesToIp(ipToBytes('::ffff:1.2.3.4')!), '::ffff:102:304');
    assert.equal(ipToBytes('example.org'), undefined);
    assert.deepEqual(ipToBytes('fe80::1%eth0'), ipToBytes('fe80::1'));
  });
});

describe('STUN codec: malformed input', () => {
  const valid = () =>
    encode({ cls: 'request', transactionId: TXID, attributes: [{ type: 'change-request', changeIp: false, changePort: true }], fingerprint: true });

  const cases: [string, () => Uint8Array, string, boolean][] = [
    ['empty', () => Buffer.alloc(0), 'too-short', false],
    ['19 bytes', () => Buffer.alloc(19), 'too-short', false],
    ['top bits set (not STUN: RTP, DTLS...)', () => Buffer.from([0x80, ...Buffer.alloc(19)]), 'not-stun', false],
    ['length not a multiple of 4', () => Buffer.from('00010002' + '2112a442' + '00'.repeat(12) + '0000', 'hex'), 'bad-length', false],
    ['length beyond the datagram', () => valid().subarray(0, 28), 'bad-length', false],
    ['trailing bytes', () => Buffer.concat([valid(), Buffer.alloc(4)]), 'bad-length', false],
    ['attribute longer than the message', () => withBody('00010010' + '00000000'), 'truncated-attribute', true],
    ['bad address family', () => withBody('00010008' + '00030001' + '01020304'), 'bad-attribute', true],
    ['IPv4 family with IPv6 length', () => withBody('00010014' + '00010001' + '00'.repeat(16)), 'bad-attribute', true],
    ['short XOR-MAPPED-ADDRESS', () => withBody('00200004' + '00010001'), 'bad-attribute', true],
    ['CHANGE-REQUEST of 2 bytes', () => withBody('00030002' + '00060000'), 'bad-attribute', true],
    ['ERROR-CODE class 7', () => withBody('00090004' + '00000714'), 'bad-attribute', true],
    ['ERROR-CODE number 100', () => withBody('00090004' + '00000464'), 'bad-attribute', true],
    ['UNKNOWN-ATTRIBUTES of odd length', () => withBody('000a0003' + '00240000'), 'bad-attribute', true],
    ['MESSAGE-INTEGRITY of 4 bytes', () => withBody('00080004' + '00000000'), 'bad-attribute', true],
    ['FINGERPRINT of 8 bytes', () => withBody('80280008' + '00'.repeat(8)), 'bad-fingerprint', true],
    ['wrong FINGERPRINT', () => { const b = valid(); b[b.length - 1]! ^= 1; return b; }, 'bad-fingerprint', true],
    ['attribute after FINGERPRINT', () => { const v = valid(); return withBody(v.subarray(20).toString('hex') + '80220000', v.subarray(0, 20)); }, 'attribute-after-fingerprint', true],
    ['33 attributes', () => withBody('80220000'.repeat(33)), 'too-many-attributes', true],
  ];
  for (const [name, make, code, hasHeader] of cases) {
    it(`${name}: ${code}${hasHeader ? ', header kept for a 400' : ''}`, () => {
      const e = errorOf(decode(make()));
      assert.equal(e.code, code, e.reason);
      assert.equal(e.header !== undefined, hasHeader);
      if (hasHeader) assert.equal(e.header!.cls, 'request');
    });
  }

  it('32 attributes are still fine', () => {
    assert.equal(ok(decode(withBody('80220000'.repeat(32)))).attributes.length, 32);
  });

  it('a non-buffer never throws', () => {
    for (const x of [undefined, null, 'abc', 42, {}, [1, 2, 3]]) assert.equal(decode(x as unknown as Uint8Array).ok, false);
  });

  it('every prefix of the vectors is refused without throwing', () => {
    for (const v of [RFC5769_REQUEST, RFC5769_RESPONSE_V4, RFC5769_RESPONSE_V6]) {
      for (let n = 0; n < v.length; n++) assert.equal(decode(v.subarray(0, n)).ok, false);
    }
  });

  it('random datagrams never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => typeof decode(b).ok === 'boolean'), { numRuns: 3000 });
  });

  it('random bodies behind a sound header never throw, and decode to bounded results', () => {
    const body = fc.integer({ min: 0, max: 120 }).chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }));
    fc.assert(
      fc.property(body, fc.boolean(), (b, classic) => {
        const head = Buffer.alloc(20);
        head.writeUInt16BE(0x0001, 0);
        head.writeUInt16BE(b.length, 2);
        if (!classic) head.writeUInt32BE(MAGIC_COOKIE, 4);
        const r = decode(Buffer.concat([head, b]));
        if (r.ok) assert.ok(r.message.attributes.length <= 32);
        else assert.ok(r.error.header, 'a sound header is reported');
      }),
      { numRuns: 3000 },
    );
  });

  it('random attribute lists (type, length, value) never throw', () => {
    const attr = fc.record({ type: fc.constantFrom(...Object.values(ATTR), 0x0024, 0x7fff, 0xffff), value: fc.uint8Array({ maxLength: 24 }) });
    fc.assert(
      fc.property(fc.array(attr, { maxLength: 40 }), (attrs) => {
        const out = encode({ cls: 'request', transactionId: randomBytes(12), attributes: attrs.map((a) => ({ type: 'raw', code: a.type, value: a.value })) });
        decode(out);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A request with `bodyHex` as its attributes (header length set to match). */
function withBody(bodyHex: string, header?: Buffer): Buffer {
  const body = Buffer.from(bodyHex, 'hex');
  const head = header ? Buffer.from(header) : encode({ cls: 'request', transactionId: TXID });
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}
