// The server's decisions without sockets: which socket answers, in which format, and what is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { transportAddress } from '../../src/stun/address.js';
import { decode, encode, type OutAttribute, type StunMessage } from '../../src/stun/codec.js';
import { ATTR } from '../../src/stun/constants.js';
import { decideReply, type ReplyDecision, type ServerLayout, type Slot } from '../../src/stun/server-reply.js';
import { RFC5769_REQUEST, RFC5769_RESPONSE_V4 } from './vectors.js';

const FULL: ServerLayout = { addresses: ['198.51.100.10', '198.51.100.11'], ports: [3478, 3479] };
const ONE: ServerLayout = { addresses: ['198.51.100.10'], ports: [3478] };
const TWO_IPS: ServerLayout = { addresses: ['198.51.100.10', '198.51.100.11'], ports: [3478] };
const PRIMARY: Slot = { ip: 0, port: 0 };
const CLIENT = transportAddress('203.0.113.5', 40000);
const TXID = Buffer.alloc(12, 7);
const CLASSIC_TXID = Buffer.alloc(16, 9);

function request(attributes: OutAttribute[] = [], classic = false): Buffer {
  return encode({ classic, cls: 'request', transactionId: classic ? CLASSIC_TXID : TXID, attributes, fingerprint: !classic });
}

function reply(d: ReplyDecision): { from: Slot; msg: StunMessage; errorCode?: number } {
  assert.equal(d.kind, 'reply', d.kind === 'drop' ? `dropped: ${d.reason} ${d.detail}` : '');
  if (d.kind !== 'reply') throw new Error('unreachable');
  const m = decode(d.bytes);
  assert.ok(m.ok);
  return { from: d.from, msg: m.message, errorCode: d.errorCode };
}

const ep = (address: string, port: number) => transportAddress(address, port);

describe('STUN server decisions', () => {
  it('a Binding request: XOR-MAPPED-ADDRESS and MAPPED-ADDRESS of the sender, RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE, FINGERPRINT', () => {
    const { from, msg } = reply(decideReply(request(), PRIMARY, CLIENT, FULL, 'realmgw'));
    assert.deepEqual(from, PRIMARY);
    assert.equal(msg.cls, 'success');
    assert.deepEqual(msg.transactionId, TXID);
    assert.deepEqual(msg.xorMappedAddress, CLIENT);
    assert.deepEqual(msg.mappedAddress, CLIENT);
    assert.deepEqual(msg.responseOrigin, ep('198.51.100.10', 3478));
    assert.deepEqual(msg.otherAddress, ep('198.51.100.11', 3479));
    assert.equal(msg.software, 'realmgw');
    assert.equal(msg.fingerprint, true);
  });

  // RFC 5780 §6.1 Table 1, from each of the four sockets
  const changes: [string, Slot, { changeIp: boolean; changePort: boolean }, Slot][] = [
    ['change IP and port', PRIMARY, { changeIp: true, changePort: true }, { ip: 1, port: 1 }],
    ['change IP', PRIMARY, { changeIp: true, changePort: false }, { ip: 1, port: 0 }],
    ['change port', PRIMARY, { changeIp: false, changePort: true }, { ip: 0, port: 1 }],
    ['no flags', PRIMARY, { changeIp: false, changePort: false }, PRIMARY],
    ['change IP and port, from the alternate socket', { ip: 1, port: 1 }, { changeIp: true, changePort: true }, PRIMARY],
    ['change port, at the alternate address', { ip: 1, port: 0 }, { changeIp: false, changePort: true }, { ip: 1, port: 1 }],
  ];
  for (const [name, at, change, want] of changes) {
    it(`CHANGE-REQUEST ${name}: answered from socket [${want.ip},${want.port}] (RESPONSE-ORIGIN); OTHER-ADDRESS relative to the receiving socket`, () => {
      const { from, msg } = reply(decideReply(request([{ type: 'change-request', ...change }]), at, CLIENT, FULL));
      assert.deepEqual(from, want);
      assert.deepEqual(msg.responseOrigin, ep(FULL.addresses[want.ip]!, FULL.ports[want.port]!));
      assert.deepEqual(msg.otherAddress, ep(FULL.addresses[1 - at.ip]!, FULL.ports[1 - at.port]!));
    });
  }

  it('one address and port: no OTHER-ADDRESS, CHANGE-REQUEST refused with 420 (RFC 5780 §6.1)', () => {
    assert.equal(reply(decideReply(request(), PRIMARY, CLIENT, ONE)).msg.otherAddress, undefined);
    const { from, msg, errorCode } = reply(decideReply(request([{ type: 'change-request', changeIp: true, changePort: false }]), PRIMARY, CLIENT, ONE));
    assert.equal(errorCode, 420);
    assert.deepEqual(from, PRIMARY);
    assert.equal(msg.cls, 'error');
    assert.deepEqual(msg.errorCode, { code: 420, reason: 'Unknown Attribute' });
    assert.deepEqual(msg.unknownAttributes, [ATTR.CHANGE_REQUEST]);
  });

  it('two addresses, one port: change IP answered, change port refused, OTHER-ADDRESS on the same port', () => {
    const ok = reply(decideReply(request([{ type: 'change-request', changeIp: true, changePort: false }]), PRIMARY, CLIENT, TWO_IPS));
    assert.deepEqual(ok.from, { ip: 1, port: 0 });
    assert.deepEqual(ok.msg.otherAddress, ep('198.51.100.11', 3478));
    assert.equal(reply(decideReply(request([{ type: 'change-request', changeIp: false, changePort: true }]), PRIMARY, CLIENT, TWO_IPS)).errorCode, 420);
  });

  it('classic RFC 3489 request: answered in its format (MAPPED-, SOURCE-, CHANGED-ADDRESS; no cookie, no FINGERPRINT)', () => {
    const d = decideReply(request([{ type: 'change-request', changeIp: true, changePort: true }], true), PRIMARY, CLIENT, FULL, 'realmgw');
    const { from, msg } = reply(d);
    assert.deepEqual(from, { ip: 1, port: 1 });
    assert.equal(msg.classic, true);
    assert.deepEqual(msg.transactionId, CLASSIC_TXID);
    assert.deepEqual(msg.mappedAddress, CLIENT);
    assert.deepEqual(msg.sourceAddress, ep('198.51.100.11', 3479));
    assert.deepEqual(msg.changedAddress, ep('198.51.100.11', 3479));
    assert.equal(msg.xorMappedAddress, undefined);
    assert.equal(msg.fingerprint, false);
    assert.equal(msg.software, undefined);
  });

  it('unknown comprehension-required attributes: 420 listing them (the RFC 5769 request carries PRIORITY)', () => {
    const { msg, errorCode } = reply(decideReply(RFC5769_REQUEST, PRIMARY, CLIENT, FULL));
    assert.equal(errorCode, 420);
    assert.deepEqual(msg.unknownAttributes, [0x0024]);
    assert.deepEqual(msg.transactionId, RFC5769_REQUEST.subarray(8, 20));
  });

  it('unknown comprehension-optional attributes are ignored', () => {
    assert.equal(reply(decideReply(request([{ type: 'raw', code: 0xc0de, value: Buffer.from('x') }]), PRIMARY, CLIENT, FULL)).msg.cls, 'success');
  });

  it('RESPONSE-ADDRESS, RESPONSE-PORT and PADDING are refused with 420: the answer only ever goes to the sender', () => {
    const attrs: OutAttribute[] = [
      { type: 'raw', code: ATTR.RESPONSE_ADDRESS, value: encodeAddr('192.0.2.99', 53) },
      { type: 'raw', code: ATTR.RESPONSE_PORT, value: Buffer.from([0, 53, 0, 0]) },
      { type: 'raw', code: ATTR.PADDING, value: Buffer.alloc(400) },
    ];
    for (const classic of [false, true]) {
      const { msg, errorCode, from } = reply(decideReply(request(attrs, classic), PRIMARY, CLIENT, FULL));
      assert.equal(errorCode, 420);
      assert.deepEqual(from, PRIMARY);
      const listed = new Set(msg.unknownAttributes);
      assert.deepEqual([...listed].sort(), [ATTR.RESPONSE_ADDRESS, ATTR.PADDING, ATTR.RESPONSE_PORT].sort());
    }
  });

  it('a request with a malformed attribute: 400 Bad Request', () => {
    const bad = request([{ type: 'raw', code: ATTR.CHANGE_REQUEST, value: Buffer.from([0, 6]) }], true);
    const { msg, errorCode } = reply(decideReply(bad, PRIMARY, CLIENT, FULL));
    assert.equal(errorCode, 400);
    assert.equal(msg.classic, true);
    assert.deepEqual(msg.errorCode, { code: 400, reason: 'Bad Request' });
  });

  it('a request for another method: 400', () => {
    const allocate = encode({ method: 0x003, cls: 'request', transactionId: TXID });
    const { msg, errorCode } = reply(decideReply(allocate, PRIMARY, CLIENT, FULL));
    assert.equal(errorCode, 400);
    assert.equal(msg.method, 0x003);
  });

  const drops: [string, Buffer, string][] = [
    ['garbage', Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'malformed'],
    ['a short packet', Buffer.alloc(8), 'malformed'],
    ['a success response (no answer to answers: no loops)', RFC5769_RESPONSE_V4, 'not-request'],
    ['an error response', encode({ cls: 'error', transactionId: TXID, attributes: [{ type: 'error-code', code: 400 }] }), 'not-request'],
    ['an indication', encode({ cls: 'indication', transactionId: TXID }), 'not-request'],
    ['a malformed response', (() => { const b = Buffer.from(RFC5769_RESPONSE_V4); b.writeUInt16BE(0x0003, 40); return b; })(), 'malformed'],
    ['a request with a wrong FINGERPRINT (RFC 5389 §7.3: discarded)', (() => { const b = request(); b[b.length - 1]! ^= 0xff; return b; })(), 'bad-fingerprint'],
  ];
  for (const [name, bytes, reason] of drops) {
    it(`drops ${name}`, () => {
      const d = decideReply(bytes, PRIMARY, CLIENT, FULL);
      assert.equal(d.kind, 'drop');
      if (d.kind === 'drop') assert.equal(d.reason, reason);
    });
  }
});

function encodeAddr(address: string, port: number): Buffer {
  return encode({ cls: 'success', transactionId: TXID, attributes: [{ type: 'mapped-address', address: transportAddress(address, port) }] }).subarray(24);
}
