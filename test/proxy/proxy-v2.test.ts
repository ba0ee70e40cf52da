// PROXY protocol v2 header: byte-exact against the layout of haproxy's proxy-protocol.txt §2.2, and read back
// by a parser written for the tests from that text (proxy-v2-reader.ts, which the relay test uses too).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { proxyV2Header } from '../../src/proxy/proxy-v2.js';
import { parseProxyV2 } from './proxy-v2-reader.js';

describe('PROXY protocol v2 header', () => {
  it('TCP over IPv4 is byte-exact: signature, v2|PROXY, AF_INET|STREAM, length 12, addresses, ports', () => {
    const h = proxyV2Header({ address: '198.51.100.7', port: 54321 }, { address: '100.64.1.130', port: 443 });
    const expected = Buffer.from([
      0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // "\r\n\r\n\0\r\nQUIT\n"
      0x21, // version 2, command PROXY
      0x11, // AF_INET, SOCK_STREAM
      0x00, 0x0c, // 12 bytes follow
      198, 51, 100, 7, // source address
      100, 64, 1, 130, // destination address
      0xd4, 0x31, // source port 54321
      0x01, 0xbb, // destination port 443
    ]);
    assert.deepEqual([...h], [...expected]);
  });

  it('dual-stack IPv4-mapped peers are written as IPv4', () => {
    const h = proxyV2Header({ address: '::ffff:192.0.2.1', port: 1 }, { address: '::ffff:192.0.2.2', port: 80 });
    assert.equal(h[13], 0x11);
    assert.deepEqual(parseProxyV2(h)?.source, { address: '192.0.2.1', port: 1 });
  });

  it('TCP over IPv6 has 36 bytes of addresses and ports', () => {
    const h = proxyV2Header({ address: '2001:db8::1', port: 40000 }, { address: '2001:db8:0:1::80', port: 80 });
    assert.equal(h.length, 16 + 36);
    assert.deepEqual(parseProxyV2(h), {
      command: 'PROXY', family: 'TCP6', length: 52,
      source: { address: '2001:db8::1', port: 40000 },
      destination: { address: '2001:db8:0:1::80', port: 80 },
    });
  });

  it('mixed families fall back to LOCAL with no addresses', () => {
    const h = proxyV2Header({ address: '2001:db8::1', port: 1 }, { address: '192.0.2.1', port: 80 });
    assert.deepEqual([...h.subarray(12)], [0x20, 0x00, 0x00, 0x00]);
  });

  it('any IPv4 pair reads back as written', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
    const port = fc.integer({ min: 0, max: 65535 });
    fc.assert(
      fc.property(v4, port, v4, port, (sa, sp, da, dp) => {
        const p = parseProxyV2(proxyV2Header({ address: sa, port: sp }, { address: da, port: dp }));
        assert.deepEqual(p, { command: 'PROXY', family: 'TCP4', length: 28, source: { address: sa, port: sp }, destination: { address: da, port: dp } });
      }),
    );
  });
});
