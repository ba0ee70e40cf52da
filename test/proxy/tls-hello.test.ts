// ClientHello parsing for the relay: real hellos from node:tls (whole, split into bytes, re-framed into many
// records), hand-built edge cases, and arbitrary or mutated bytes that must never throw.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fatalAlert, readClientHello } from '../../src/proxy/tls-hello.js';
import { HeadSniffer } from '../../src/proxy/sniff.js';
import { captureClientHello, reframe } from './support.js';

const MAX = 16 * 1024;

/** A ClientHello record with the given extensions block (undefined: none at all). */
function hello(extensions?: Buffer, sessionId = 0): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([sessionId]),
    Buffer.alloc(sessionId),
    Buffer.from([0, 2, 0x13, 0x01, 1, 0]),
    extensions === undefined ? Buffer.alloc(0) : Buffer.concat([u16(extensions.length), extensions]),
  ]);
  const msg = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(msg.length), msg]);
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const ext = (type: number, data: Buffer) => Buffer.concat([u16(type), u16(data.length), data]);
const sniExt = (...entries: [number, string][]) => {
  const list = Buffer.concat(entries.map(([t, n]) => Buffer.concat([Buffer.from([t]), u16(n.length), Buffer.from(n, 'latin1')])));
  return ext(0, Buffer.concat([u16(list.length), list]));
};

describe('ClientHello from node:tls', () => {
  let tls13: Buffer;
  let tls12: Buffer;
  let noSni: Buffer;
  before(async () => {
    tls13 = await captureClientHello({ servername: 'www.HostA.gwa.demo' });
    tls12 = await captureClientHello({ servername: 'www.hostb.gwa.demo', maxVersion: 'TLSv1.2' });
    noSni = await captureClientHello({}); // host is an IP literal: node sends no server_name
  });

  it('yields the server name (canonical), TLS 1.3 and 1.2 clients alike', () => {
    assert.deepEqual(readClientHello(tls13, MAX), { kind: 'hello', serverName: 'www.hosta.gwa.demo', version: 0x0303 });
    const v12 = readClientHello(tls12, MAX);
    assert.equal(v12.kind === 'hello' && v12.serverName, 'www.hostb.gwa.demo');
  });

  it('a hello without server_name has no name', () => {
    const v = readClientHello(noSni, MAX);
    assert.equal(v.kind, 'hello');
    assert.equal(v.kind === 'hello' && v.serverName, undefined);
  });

  it('every strict prefix is incomplete, and says how many bytes are worth waiting for', () => {
    for (let n = 0; n < tls13.length; n++) {
      const v = readClientHello(tls13.subarray(0, n), MAX);
      assert.equal(v.kind, 'incomplete', `prefix ${n}`);
      assert.ok(v.kind === 'incomplete' && v.need > n && v.need <= tls13.length);
    }
  });

  it('the message re-framed into many small records (as a middlebox may send it) gives the same name', () => {
    for (const size of [1, 2, 3, 4, 5, 50, 300]) {
      const v = readClientHello(reframe(tls13, size), 64 * 1024);
      assert.equal(v.kind === 'hello' && v.serverName, 'www.hosta.gwa.demo', `records of ${size} bytes`);
    }
  });

  it('the sniffer routes it whether it arrives whole or one byte at a time, keeping every byte', () => {
    for (const step of [1, 7, tls13.length]) {
      const s = new HeadSniffer('tls', MAX);
      let r;
      for (let off = 0; off < tls13.length; off += step) r = s.push(tls13.subarray(off, off + step));
      assert.deepEqual(r, { kind: 'route', name: 'www.hosta.gwa.demo' });
      assert.ok(s.bytes.equals(tls13));
    }
  });

  it('a hello spanning more record bytes than the bound is too large (checked before it is all read)', () => {
    const framed = reframe(tls13, 16);
    assert.equal(readClientHello(framed, 256).kind, 'too-large');
    assert.equal(readClientHello(framed.subarray(0, 300), 256).kind, 'too-large');
  });

  it('never throws on any single-byte mutation or truncation of a real hello', () => {
    fc.assert(
      fc.property(fc.nat(tls13.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(tls13.length), (at, byte, cut) => {
        const m = Buffer.from(tls13);
        m[at] = byte;
        readClientHello(m.subarray(0, cut), MAX);
        readClientHello(m, MAX);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('ClientHello edge cases', () => {
  it('no extensions at all (a legal old-style hello): no name', () => {
    assert.deepEqual(readClientHello(hello(), MAX), { kind: 'hello', serverName: undefined, version: 0x0303 });
  });

  it('other name types are skipped; an IP literal or garbage as host_name is no name', () => {
    const v = readClientHello(hello(sniExt([7, 'x'], [0, 'a.example'])), MAX);
    assert.equal(v.kind === 'hello' && v.serverName, 'a.example');
    const ip = readClientHello(hello(sniExt([0, '192.0.2.1'])), MAX);
    assert.equal(ip.kind === 'hello' && ip.serverName, undefined);
    const junk = readClientHello(hello(sniExt([0, 'a\0b.example'])), MAX);
    assert.equal(junk.kind === 'hello' && junk.serverName, undefined);
  });

  for (const [what, bytes] of [
    ['two host_name entries', hello(sniExt([0, 'a.example'], [0, 'b.example']))],
    ['duplicate extension', hello(Buffer.concat([sniExt([0, 'a.example']), sniExt([0, 'a.example'])]))],
    ['empty host_name', hello(sniExt([0, '']))],
    ['server_name list longer than its extension', hello(ext(0, Buffer.from([0, 9, 0, 0, 1, 0x61])))],
    ['extensions length beyond the message', hello(Buffer.from([0, 0, 0, 200]))],
    ['session id over 32 bytes', hello(undefined, 33)],
    ['an alert record first', Buffer.from([21, 3, 1, 0, 2, 2, 40])],
    ['application data first', Buffer.from([23, 3, 3, 0, 1, 0])],
    ['SSLv2-style hello', Buffer.from([0x80, 0x2e, 1, 3, 1, 0, 0x15])],
    ['empty handshake record', Buffer.from([22, 3, 1, 0, 0])],
    ['record longer than 2^14', Buffer.from([22, 3, 1, 0x40, 1])],
    ['a ServerHello', Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0])],
    ['HTTP on the TLS port', Buffer.from('GET / HTTP/1.1\r\n')],
  ] as const) {
    it(`malformed: ${what}`, () => assert.equal(readClientHello(bytes, MAX).kind, 'malformed'));
  }

  it('never throws on arbitrary bytes, nor on arbitrary bytes behind a plausible record header', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => void readClientHello(Buffer.from(b), 512)), { numRuns: 3000 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        const body = Buffer.concat([Buffer.from([1, 0, b.length >> 8, b.length & 0xff]), Buffer.from(b)]);
        const v = readClientHello(Buffer.concat([Buffer.from([22, 3, 1]), u16(body.length), body]), MAX);
        if (v.kind === 'hello' && v.serverName !== undefined) assert.match(v.serverName, /^[a-z0-9_.-]+$/);
      }),
      { numRuns: 3000 },
    );
  });

  it('the refusal is a fatal unrecognized_name alert record', () => {
    assert.deepEqual([...fatalAlert(112)], [21, 3, 3, 0, 2, 2, 112]);
    assert.deepEqual([...fatalAlert(112, 0x0301)], [21, 3, 1, 0, 2, 2, 112]);
    const s = new HeadSniffer('tls', MAX);
    assert.equal(s.refusal('malformed'), undefined, 'malformed: just close');
    assert.deepEqual([...s.refusal('noName')!], [21, 3, 3, 0, 2, 2, 112]);
  });
});
