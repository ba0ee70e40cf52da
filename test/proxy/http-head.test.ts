// HTTP head parsing for the relay: what routes, what is a 400, and that arbitrary bytes never throw.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { headEnd, parseRequestHead, refusalResponse, resumeScanAt } from '../../src/proxy/http-head.js';
import { HeadSniffer } from '../../src/proxy/sniff.js';

const parse = (s: string) => parseRequestHead(Buffer.from(s, 'latin1'));
const host = (name: string | undefined) => ({ kind: 'host', name });

describe('HTTP head: routing name', () => {
  it('takes Host case-insensitively, ignores its port and a trailing dot, lower-cases the name', () => {
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHost: WWW.HostA.gwa.demo\r\n\r\n'), host('www.hosta.gwa.demo'));
    assert.deepEqual(parse('GET /x HTTP/1.1\r\nhOsT:www.hosta.gwa.demo:8080\r\nAccept: */*\r\n\r\n'), host('www.hosta.gwa.demo'));
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHOST: \t www.hosta.gwa.demo. \t\r\n\r\n'), host('www.hosta.gwa.demo'));
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHost: a.b:\r\n\r\n'), host('a.b'), 'an empty port is allowed by RFC 3986');
  });

  it('absolute-form: the target authority wins over Host (RFC 9112 §3.2.2)', () => {
    assert.deepEqual(parse('GET http://www.hostb.gwa.demo:80/p?q HTTP/1.1\r\nHost: www.hosta.gwa.demo\r\n\r\n'), host('www.hostb.gwa.demo'));
    assert.deepEqual(parse('GET HTTPS://WWW.hostb.gwa.demo HTTP/1.1\r\n\r\n'), host('www.hostb.gwa.demo'));
    assert.deepEqual(parse('OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n'), host('a.example'));
  });

  it('bare LF line ends and leading empty lines are accepted (RFC 9112 §2.2)', () => {
    const s = '\r\n\nGET / HTTP/1.1\nHost: a.example\n\n';
    assert.equal(headEnd(Buffer.from(s)), s.length);
    assert.deepEqual(parse(s), host('a.example'));
  });

  it('IP literals and odd characters are well formed but no name of ours (421, not 400)', () => {
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n'), host(undefined));
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n'), host(undefined));
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHost: a!b.example\r\n\r\n'), host(undefined));
  });

  for (const [what, head] of [
    ['no Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['HTTP/1.0 without Host (nothing to route by)', 'GET / HTTP/1.0\r\n\r\n'],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\n\r\n'],
    ['space before the colon', 'GET / HTTP/1.1\r\nHost : a.example\r\n\r\n'],
    ['obsolete line folding', 'GET / HTTP/1.1\r\nHost: a.example\r\n more\r\n\r\n'],
    ['bad request line', 'GET /  HTTP/1.1\r\nHost: a.example\r\n\r\n'],
    ['not HTTP', '\x16\x03\x01\x00\x05hello\r\n\r\n'],
    ['CONNECT authority-form', 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n'],
    ['other scheme', 'GET ftp://a.example/ HTTP/1.1\r\n\r\n'],
    ['userinfo', 'GET http://u@a.example/ HTTP/1.1\r\n\r\n'],
    ['empty Host', 'GET / HTTP/1.1\r\nHost:\r\n\r\n'],
    ['non-numeric port', 'GET / HTTP/1.1\r\nHost: a.example:http\r\n\r\n'],
    ['space in the host', 'GET / HTTP/1.1\r\nHost: a example\r\n\r\n'],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a.example\r\nX: a\0b\r\n\r\n'],
  ] as const) {
    it(`malformed: ${what}`, () => assert.equal(parse(head).kind, 'malformed'));
  }

  it('headEnd resumes a scan across appended chunks, including a terminator split between them', () => {
    const whole = Buffer.from('GET / HTTP/1.1\r\nHost: a.example\r\n\r\nBODY');
    for (let cut = 1; cut < whole.length; cut++) {
      const first = whole.subarray(0, cut);
      const e1 = headEnd(first);
      const e = e1 !== -1 ? e1 : headEnd(whole, resumeScanAt(first.length));
      assert.equal(e, whole.length - 4, `cut at ${cut}`);
    }
  });

  it('refusal responses are complete HTTP/1.1 answers that close', () => {
    assert.equal(refusalResponse(421).toString(), 'HTTP/1.1 421 Misdirected Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.match(refusalResponse(431).toString(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  });
});

describe('HTTP head sniffer', () => {
  it('routes once the head is complete, however the bytes are split, and keeps every byte for the upstream', () => {
    const whole = Buffer.from('POST /up HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nabc');
    for (let step = 1; step <= 7; step++) {
      const s = new HeadSniffer('http', 1024);
      let r;
      for (let off = 0; off < whole.length; off += step) {
        r = s.push(whole.subarray(off, off + step));
        if (r.kind !== 'pending') break;
      }
      assert.deepEqual(r, { kind: 'route', name: 'a.example' });
      assert.ok(whole.subarray(0, s.bytes.length).equals(s.bytes), 'bytes kept in order');
    }
  });

  it('a head that does not end within the limit is oversized (431), with or without its end in sight', () => {
    const s = new HeadSniffer('http', 64);
    assert.equal(s.push(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'pending');
    const r = s.push(Buffer.from(`X-Pad: ${'a'.repeat(60)}\r\n`));
    assert.equal(r.kind === 'refuse' && r.reason, 'oversized');
    assert.equal(s.refusal('oversized')?.toString().split('\r\n')[0], 'HTTP/1.1 431 Request Header Fields Too Large');
    const whole = new HeadSniffer('http', 32).push(Buffer.from('GET / HTTP/1.1\r\nHost: a.example.with.long.name\r\n\r\n'));
    assert.equal(whole.kind === 'refuse' && whole.reason, 'oversized');
  });

  it('never throws on arbitrary bytes, in any split', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), (chunks) => {
        const s = new HeadSniffer('http', 256);
        for (const c of chunks) if (s.push(Buffer.from(c)).kind !== 'pending') break;
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on head-shaped noise (request-line and field pieces)', () => {
    const piece = fc.constantFrom('GET', ' ', '/', 'http://', 'HTTP/1.1', '\r\n', '\n', ':', 'Host', 'host', '[', ']', '::1', 'a.b', '@', '\0', '\t', '9', '\r');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const v = parseRequestHead(Buffer.from(parts.join('') + '\r\n\r\n', 'latin1'));
        assert.ok(v.kind === 'host' || v.kind === 'malformed');
        if (v.kind === 'host' && v.name !== undefined) assert.match(v.name, /^[a-z0-9_.-]+$/);
      }),
      { numRuns: 3000 },
    );
  });
});
