import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkServerCookie, cookieOption, makeServerCookie, secretKey } from '../../../src/dns/proof/cookies.js';
import { CookieSecrets } from '../../../src/dns/proof/cookie-secrets.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ip = (s: string) => Buffer.from(s.split('.').map(Number));
const SECRET = secretKey(hex('e5 e9 73 e5 a6 b2 a4 3f 48 e7 dc 84 9e 37 bf cf'));

// RFC 9018 appendix A: interoperable cookies must be byte-identical to another implementation's.
test('RFC 9018 A.1-A.3 vectors: server cookies are byte-identical', () => {
  assert.deepEqual(makeServerCookie(SECRET, hex('2464c4abcf10c957'), ip('198.51.100.100'), 1559731985), hex('01000000 5cf79f11 1f8130c3 eee29480'));
  assert.deepEqual(makeServerCookie(SECRET, hex('2464c4abcf10c957'), ip('198.51.100.100'), 1559734385), hex('01000000 5cf7a871 d4a564a1 442aca77'));
  assert.deepEqual(makeServerCookie(SECRET, hex('fc93fc62807ddb86'), ip('203.0.113.203'), 1559734700), hex('01000000 5cf7a9ac f73a7810 aca2381e'));
});

test('a cookie is valid only for its client cookie, address and secret', () => {
  const client = hex('0102030405060708');
  const addr = ip('192.0.2.7');
  const now = 1_800_000_000;
  const server = makeServerCookie(SECRET, client, addr, now);
  assert.deepEqual(checkServerCookie([SECRET], client, server, addr, now + 10), { kind: 'valid', refresh: false });
  assert.equal(checkServerCookie([SECRET], client, server, ip('192.0.2.8'), now).kind, 'invalid');
  assert.equal(checkServerCookie([SECRET], hex('0102030405060709'), server, addr, now).kind, 'invalid');
  assert.equal(checkServerCookie([secretKey(Buffer.alloc(16, 1))], client, server, addr, now).kind, 'invalid');
  const flipped = Buffer.from(server);
  flipped[15] ^= 1;
  assert.equal(checkServerCookie([SECRET], client, flipped, addr, now).kind, 'invalid');
  assert.equal(checkServerCookie([SECRET], client, undefined, addr, now).kind, 'client-only');
  assert.equal(checkServerCookie([SECRET], client, server.subarray(0, 8), addr, now).kind, 'invalid');
});

test('cookie age: refreshed after half an hour, invalid after an hour or 5 minutes ahead', () => {
  const client = hex('0102030405060708');
  const addr = ip('192.0.2.7');
  const t = 1_800_000_000;
  const server = makeServerCookie(SECRET, client, addr, t);
  assert.deepEqual(checkServerCookie([SECRET], client, server, addr, t + 1801), { kind: 'valid', refresh: true });
  assert.equal(checkServerCookie([SECRET], client, server, addr, t + 3601).kind, 'invalid');
  assert.equal(checkServerCookie([SECRET], client, server, addr, t - 299).kind, 'valid');
  assert.equal(checkServerCookie([SECRET], client, server, addr, t - 301).kind, 'invalid');
  // serial arithmetic across the 32-bit wrap
  const late = makeServerCookie(SECRET, client, addr, 0xffffff00);
  assert.equal(checkServerCookie([SECRET], client, late, addr, 0x100000010 >>> 0).kind, 'valid');
});

test('the answer option echoes the client cookie then the server cookie', () => {
  const opt = cookieOption(hex('0102030405060708'), Buffer.alloc(16, 0xaa));
  assert.equal(opt.length, 24);
  assert.deepEqual(opt.subarray(0, 8), hex('0102030405060708'));
});

test('secrets rotate: the previous one still validates for one period, then neither', () => {
  let n = 0;
  const secrets = new CookieSecrets({ rotateMs: 1000, random: (len) => Buffer.alloc(len, ++n) });
  const k0 = secrets.at(0);
  assert.equal(k0.length, 1);
  const client = hex('0102030405060708');
  const addr = ip('192.0.2.7');
  const cookie = makeServerCookie(k0[0], client, addr, 100);
  const k1 = secrets.at(1000);
  assert.equal(k1.length, 2);
  assert.equal(checkServerCookie(k1, client, cookie, addr, 101).kind, 'valid');
  const k2 = secrets.at(2000);
  assert.equal(checkServerCookie(k2, client, cookie, addr, 102).kind, 'invalid');
  const fixed = new CookieSecrets({ rotateMs: 1, secret: Buffer.alloc(16, 9) });
  assert.deepEqual(fixed.at(0), fixed.at(10_000));
});
