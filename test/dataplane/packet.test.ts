import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IPPROTO, parseIpv4 } from '../../src/dataplane/packet.js';
import { parseIpv4 as parseDotted } from '../../src/util/ipv4.js';

interface Ip4Spec {
  src?: string;
  dst?: string;
  protocol: number;
  /** bytes of IP options (multiple of 4, at most 40) */
  options?: number[];
  ttl?: number;
  /** more-fragments flag */
  mf?: boolean;
  /** fragment offset in 8-byte units */
  fragOffset?: number;
  /** overrides the computed total length */
  totalLength?: number;
  /** overrides the version/IHL byte */
  versionIhl?: number;
}

/** Builds an IPv4 header (checksum left 0: the parser does not check it) followed by `l4`. */
function ip4(spec: Ip4Spec, l4: number[] | Buffer): Buffer {
  const options = spec.options ?? [];
  assert.equal(options.length % 4, 0);
  const ihl = 20 + options.length;
  const body = Buffer.from(l4);
  const h = Buffer.alloc(ihl);
  h[0] = spec.versionIhl ?? (0x40 | (ihl / 4));
  h.writeUInt16BE(spec.totalLength ?? ihl + body.length, 2);
  h.writeUInt16BE(0x1234, 4); // identification
  h.writeUInt16BE((spec.mf ? 0x2000 : 0) | (spec.fragOffset ?? 0), 6);
  h[8] = spec.ttl ?? 64;
  h[9] = spec.protocol;
  h.writeUInt32BE(parseDotted(spec.src ?? '100.64.0.100'), 12);
  h.writeUInt32BE(parseDotted(spec.dst ?? '100.64.1.131'), 16);
  Buffer.from(options).copy(h, 20);
  return Buffer.concat([h, body]);
}

function udp(sport: number, dport: number, payload = 4): Buffer {
  const b = Buffer.alloc(8 + payload);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(8 + payload, 4);
  return b;
}

function tcp(sport: number, dport: number, flags: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt32BE(1000, 4); // seq
  b[12] = 5 << 4; // data offset
  b[13] = flags;
  b.writeUInt16BE(64240, 14); // window
  return b;
}

const SRC = parseDotted('100.64.0.100');
const DST = parseDotted('100.64.1.131');

describe('parseIpv4 (queued packet headers)', () => {
  it('UDP: addresses as u32, ports, lengths', () => {
    const p = parseIpv4(ip4({ protocol: IPPROTO.UDP, ttl: 57 }, udp(53000, 53)));
    assert.deepEqual(p, {
      src: SRC,
      dst: DST,
      protocol: 17,
      srcPort: 53000,
      dstPort: 53,
      headerLength: 20,
      totalLength: 32,
      ttl: 57,
    });
  });

  it('TCP SYN: ports and flags', () => {
    const p = parseIpv4(ip4({ protocol: IPPROTO.TCP }, tcp(40000, 443, 0x02)));
    assert.ok(p);
    assert.equal(p.srcPort, 40000);
    assert.equal(p.dstPort, 443);
    assert.equal(p.tcpFlags, 0x02);
    assert.equal(p.fragment, undefined);
  });

  it('addresses with the top bit set stay unsigned', () => {
    const p = parseIpv4(ip4({ protocol: IPPROTO.UDP, src: '255.254.253.252', dst: '200.1.2.3' }, udp(1, 2)));
    assert.equal(p?.src, 0xfffefdfc);
    assert.equal(p?.dst, parseDotted('200.1.2.3'));
  });

  it('ICMP: type and code, ports 0', () => {
    const echo = [8, 0, 0, 0, 0x12, 0x34, 0, 1];
    const p = parseIpv4(ip4({ protocol: IPPROTO.ICMP }, echo));
    assert.ok(p);
    assert.equal(p.icmpType, 8);
    assert.equal(p.icmpCode, 0);
    assert.equal(p.srcPort, 0);
    assert.equal(p.dstPort, 0);
    const unreach = parseIpv4(ip4({ protocol: IPPROTO.ICMP }, [3, 3, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual([unreach?.icmpType, unreach?.icmpCode], [3, 3]);
  });

  it('SCTP: ports from the common header', () => {
    const sctp = Buffer.alloc(12);
    sctp.writeUInt16BE(5000, 0);
    sctp.writeUInt16BE(3868, 2);
    const p = parseIpv4(ip4({ protocol: IPPROTO.SCTP }, sctp));
    assert.deepEqual([p?.srcPort, p?.dstPort], [5000, 3868]);
  });

  it('portless protocols (GRE, ESP): ports 0, no transport header needed', () => {
    const gre = parseIpv4(ip4({ protocol: 47 }, []));
    assert.ok(gre);
    assert.deepEqual([gre.protocol, gre.srcPort, gre.dstPort], [47, 0, 0]);
    assert.equal(gre.icmpType, undefined);
    assert.equal(parseIpv4(ip4({ protocol: 50 }, [1, 2, 3, 4]))?.dstPort, 0);
  });

  it('IP options: the transport header is found after them', () => {
    // router alert (4 bytes) + NOPs + record route (11 bytes) + end of list, padded to 16
    const options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x07, 0x0b, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x00];
    const p = parseIpv4(ip4({ protocol: IPPROTO.UDP, options }, udp(1234, 5678)));
    assert.ok(p);
    assert.equal(p.headerLength, 36);
    assert.deepEqual([p.srcPort, p.dstPort], [1234, 5678]);
    // the longest header: IHL 15 = 60 bytes
    const max = parseIpv4(ip4({ protocol: IPPROTO.TCP, options: new Array(40).fill(1) }, tcp(1, 80, 0x02)));
    assert.equal(max?.headerLength, 60);
    assert.equal(max?.dstPort, 80);
  });

  it('fragments: the first has ports, later ones have ports 0; both are flagged', () => {
    const first = parseIpv4(ip4({ protocol: IPPROTO.UDP, mf: true }, udp(1000, 2000, 100)));
    assert.ok(first);
    assert.equal(first.fragment, true);
    assert.deepEqual([first.srcPort, first.dstPort], [1000, 2000]);

    const later = parseIpv4(ip4({ protocol: IPPROTO.UDP, fragOffset: 14 }, Buffer.alloc(50, 0xee)));
    assert.ok(later);
    assert.equal(later.fragment, true);
    assert.deepEqual([later.srcPort, later.dstPort], [0, 0]);

    const last = parseIpv4(ip4({ protocol: IPPROTO.TCP, fragOffset: 3 }, [0xde, 0xad]));
    assert.deepEqual([last?.fragment, last?.dstPort, last?.tcpFlags], [true, 0, undefined]);

    const icmpLater = parseIpv4(ip4({ protocol: IPPROTO.ICMP, fragOffset: 1 }, [1]));
    assert.deepEqual([icmpLater?.fragment, icmpLater?.icmpType], [true, undefined]);
  });

  it('a payload cut by copyBytes still parses when the headers are complete', () => {
    const full = ip4({ protocol: IPPROTO.UDP }, udp(9, 10, 1000));
    const p = parseIpv4(full.subarray(0, 128));
    assert.equal(p?.totalLength, 1028);
    assert.equal(p?.dstPort, 10);
    assert.equal(parseIpv4(full.subarray(0, 28))?.dstPort, 10, 'exactly IP + UDP header');
  });

  it('trailing bytes past the total length (link padding) are ignored', () => {
    const padded = Buffer.concat([ip4({ protocol: IPPROTO.UDP }, udp(1, 2, 0)), Buffer.alloc(18)]);
    assert.equal(parseIpv4(padded)?.totalLength, 28);
    // ... and do not count as transport header: total length says the UDP header is cut
    const cut = Buffer.concat([ip4({ protocol: IPPROTO.UDP, totalLength: 24 }, udp(1, 2, 0)), Buffer.alloc(18)]);
    assert.equal(parseIpv4(cut), undefined);
  });

  it('undefined: not IPv4, bad IHL, truncated headers', () => {
    const good = ip4({ protocol: IPPROTO.TCP }, tcp(1, 2, 0x02));
    assert.ok(parseIpv4(good));
    assert.equal(parseIpv4(Buffer.alloc(0)), undefined, 'empty');
    assert.equal(parseIpv4(good.subarray(0, 19)), undefined, 'shorter than a header');
    assert.equal(parseIpv4(good.subarray(0, 39)), undefined, 'TCP header cut');
    assert.equal(parseIpv4(ip4({ protocol: IPPROTO.TCP }, tcp(1, 2, 0x02).subarray(0, 8))), undefined, 'TCP shorter than 20');
    assert.equal(parseIpv4(ip4({ protocol: IPPROTO.UDP }, [0, 1, 0, 2])), undefined, 'UDP header cut');
    assert.equal(parseIpv4(ip4({ protocol: IPPROTO.ICMP }, [8, 0, 0])), undefined, 'ICMP header cut');
    // an IPv6 header
    const v6 = Buffer.alloc(60);
    v6[0] = 0x60;
    assert.equal(parseIpv4(v6), undefined, 'IPv6');
    for (const ihl of [0, 1, 4]) {
      assert.equal(parseIpv4(ip4({ protocol: IPPROTO.UDP, versionIhl: 0x40 | ihl }, udp(1, 2))), undefined, `IHL ${ihl}`);
    }
    // IHL claims options the buffer does not have
    assert.equal(parseIpv4(ip4({ protocol: IPPROTO.UDP, versionIhl: 0x4f }, udp(1, 2))), undefined, 'IHL 15, 28 bytes');
    assert.equal(parseIpv4(ip4({ protocol: IPPROTO.UDP, totalLength: 19 }, udp(1, 2))), undefined, 'total < header');
  });

  it('never throws, and every field it returns is read from inside the buffer and the packet (random input)', () => {
    // Buffer's own readers throw past the end, so each field is re-read here where the parser must have found it.
    const ported = new Set<number>([IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.SCTP, IPPROTO.DCCP]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.boolean(), (bytes, forceV4) => {
        const b = Buffer.from(bytes);
        if (forceV4 && b.length > 0) b[0] = 0x40 | (b[0]! & 0x0f);
        const p = parseIpv4(b);
        if (p === undefined) return;
        const hl = (b.readUInt8(0) & 0x0f) * 4;
        assert.equal(p.headerLength, hl);
        assert.deepEqual([p.totalLength, p.ttl, p.protocol, p.src, p.dst], [b.readUInt16BE(2), b.readUInt8(8), b.readUInt8(9), b.readUInt32BE(12), b.readUInt32BE(16)]);
        const firstFragment = (b.readUInt16BE(6) & 0x1fff) === 0;
        const end = Math.min(b.length, p.totalLength); // bytes behind totalLength are not the packet's
        if (firstFragment && ported.has(p.protocol)) {
          assert.ok(hl + 4 <= end, `ports at ${hl} in ${end} bytes`);
          assert.deepEqual([p.srcPort, p.dstPort], [b.readUInt16BE(hl), b.readUInt16BE(hl + 2)]);
        } else {
          assert.deepEqual([p.srcPort, p.dstPort], [0, 0]);
        }
        if (firstFragment && p.protocol === IPPROTO.TCP) assert.equal(p.tcpFlags, b.readUInt8(hl + 13));
        if (firstFragment && p.protocol === IPPROTO.ICMP) assert.deepEqual([p.icmpType, p.icmpCode], [b.readUInt8(hl), b.readUInt8(hl + 1)]);
        for (const v of Object.values(p)) assert.notEqual(v, undefined);
      }),
      { numRuns: 5000 },
    );
  });

  it('round-trips random well-formed UDP/TCP headers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(IPPROTO.UDP, IPPROTO.TCP),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 10 }),
        (protocol, src, dst, sport, dport, optWords) => {
          const l4 = protocol === IPPROTO.UDP ? udp(sport, dport) : tcp(sport, dport, 0x12);
          const b = ip4({ protocol, options: new Array(optWords * 4).fill(1) }, l4);
          b.writeUInt32BE(src, 12);
          b.writeUInt32BE(dst, 16);
          const p = parseIpv4(b);
          assert.ok(p);
          assert.deepEqual([p.src, p.dst, p.srcPort, p.dstPort, p.headerLength], [src, dst, sport, dport, 20 + optWords * 4]);
        },
      ),
    );
  });
});
