import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type FlowKey,
  type PacketKey,
  assertFlowKey,
  flowKeyProblem,
  keyMatches,
  keysCanOverlap,
  matchRank,
  protocolHasPorts,
} from '../../src/pool/flow-key.js';

const PORTED = [6, 17, 33, 132, 136];
const ALL_PROTOCOLS = Array.from({ length: 256 }, (_, p) => p);

/** Every real packet over all 256 protocols, with ports drawn from `ports` (port 0 for portless protocols). */
function packets(ports: number[]): PacketKey[] {
  const out: PacketKey[] = [];
  for (const protocol of ALL_PROTOCOLS) {
    if (PORTED.includes(protocol)) for (const port of ports) out.push({ protocol, port });
    else out.push({ protocol, port: 0 });
  }
  return out;
}

/** Matching of a key against a *real* packet, straight from the definition (not the code under test). */
function matchesReal(key: FlowKey, pkt: PacketKey): boolean {
  return (key.protocol === 0 || key.protocol === pkt.protocol) && (key.port === 0 || key.port === pkt.port);
}

function bruteOverlap(a: FlowKey, b: FlowKey): boolean {
  const ports = [...new Set([0, 1, 4321, a.port, b.port])];
  return packets(ports).some((p) => matchesReal(a, p) && matchesReal(b, p));
}

describe('protocolHasPorts', () => {
  it('is true exactly for tcp, udp, dccp, sctp and udplite', () => {
    assert.deepEqual(ALL_PROTOCOLS.filter(protocolHasPorts), [...PORTED].sort((x, y) => x - y));
  });
});

describe('keyMatches', () => {
  it('treats 0 as any in each field', () => {
    assert.equal(keyMatches({ protocol: 0, port: 0 }, { protocol: 1, port: 0 }), true);
    assert.equal(keyMatches({ protocol: 6, port: 0 }, { protocol: 6, port: 443 }), true);
    assert.equal(keyMatches({ protocol: 0, port: 80 }, { protocol: 17, port: 80 }), true);
    assert.equal(keyMatches({ protocol: 6, port: 80 }, { protocol: 6, port: 80 }), true);
    assert.equal(keyMatches({ protocol: 6, port: 80 }, { protocol: 17, port: 80 }), false);
    assert.equal(keyMatches({ protocol: 6, port: 80 }, { protocol: 6, port: 81 }), false);
    assert.equal(keyMatches({ protocol: 1, port: 0 }, { protocol: 6, port: 0 }), false);
  });

  it('agrees with the definition on every real packet', () => {
    const ports = [0, 22, 80];
    const keys = [0, 1, 6, 17, 47].flatMap((protocol) => ports.map((port) => ({ protocol, port })));
    for (const key of keys) {
      for (const pkt of packets([0, 22, 80, 443])) assert.equal(keyMatches(key, pkt), matchesReal(key, pkt));
    }
  });

  it('never lets a portless packet match a key that names a port, whatever its port field says', () => {
    assert.equal(keyMatches({ protocol: 0, port: 80 }, { protocol: 1, port: 80 }), false);
    assert.equal(keyMatches({ protocol: 0, port: 80 }, { protocol: 47, port: 80 }), false);
    assert.equal(keyMatches({ protocol: 0, port: 0 }, { protocol: 1, port: 80 }), true);
  });
});

describe('keysCanOverlap', () => {
  it('handles the documented cases', () => {
    assert.equal(keysCanOverlap({ protocol: 1, port: 0 }, { protocol: 0, port: 80 }), false);
    assert.equal(keysCanOverlap({ protocol: 6, port: 80 }, { protocol: 6, port: 22 }), false);
    assert.equal(keysCanOverlap({ protocol: 6, port: 80 }, { protocol: 17, port: 80 }), false);
    assert.equal(keysCanOverlap({ protocol: 6, port: 80 }, { protocol: 0, port: 80 }), true);
    assert.equal(keysCanOverlap({ protocol: 6, port: 80 }, { protocol: 6, port: 0 }), true);
    assert.equal(keysCanOverlap({ protocol: 0, port: 0 }, { protocol: 1, port: 0 }), true);
    assert.equal(keysCanOverlap({ protocol: 0, port: 22 }, { protocol: 0, port: 80 }), false);
    assert.equal(keysCanOverlap({ protocol: 0, port: 80 }, { protocol: 0, port: 80 }), true);
    assert.equal(keysCanOverlap({ protocol: 17, port: 0 }, { protocol: 0, port: 53 }), true);
    assert.equal(keysCanOverlap({ protocol: 47, port: 0 }, { protocol: 0, port: 53 }), false);
  });

  it('is exact: true iff some real packet matches both (brute force over every protocol)', () => {
    const protocols = [0, 1, 2, 6, 17, 33, 47, 58, 132, 136, 255];
    const ports = [0, 22, 80, 65535];
    const keys = protocols.flatMap((protocol) => ports.map((port) => ({ protocol, port })));
    for (const a of keys) {
      for (const b of keys) {
        assert.equal(keysCanOverlap(a, b), bruteOverlap(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
  });

  it('is exact and symmetric for random keys', () => {
    const key = fc.record({
      protocol: fc.oneof(fc.constantFrom(0, 1, 6, 17, 132), fc.integer({ min: 0, max: 255 })),
      port: fc.oneof(fc.constantFrom(0, 22, 80), fc.integer({ min: 0, max: 65535 })),
    });
    fc.assert(
      fc.property(key, key, (a, b) => {
        assert.equal(keysCanOverlap(a, b), keysCanOverlap(b, a));
        assert.equal(keysCanOverlap(a, b), bruteOverlap(a, b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('matchRank', () => {
  it('orders exact, port wildcard, protocol wildcard, both', () => {
    assert.equal(matchRank({ protocol: 6, port: 80 }), 0);
    assert.equal(matchRank({ protocol: 6, port: 0 }), 1);
    assert.equal(matchRank({ protocol: 1, port: 0 }), 1);
    assert.equal(matchRank({ protocol: 0, port: 80 }), 2);
    assert.equal(matchRank({ protocol: 0, port: 0 }), 3);
  });
});

describe('flow key validation', () => {
  it('accepts valid keys', () => {
    for (const key of [
      { protocol: 0, port: 0 },
      { protocol: 0, port: 65535 },
      { protocol: 1, port: 0 },
      { protocol: 6, port: 80 },
      { protocol: 255, port: 0 },
    ]) {
      assert.equal(flowKeyProblem(key), undefined, JSON.stringify(key));
      assertFlowKey(key);
    }
  });

  it('rejects out-of-range fields and a port on a portless protocol', () => {
    const bad: [FlowKey, RegExp][] = [
      [{ protocol: 256, port: 0 }, /protocol must be an integer 0\.\.255/],
      [{ protocol: -1, port: 0 }, /protocol/],
      [{ protocol: 6.5, port: 0 }, /protocol/],
      [{ protocol: 6, port: 65536 }, /port must be an integer 0\.\.65535/],
      [{ protocol: 6, port: -1 }, /port/],
      [{ protocol: 6, port: Number.NaN }, /port/],
      [{ protocol: 1, port: 80 }, /protocol 1 has no ports/],
      [{ protocol: 47, port: 1 }, /protocol 47 has no ports/],
    ];
    for (const [key, message] of bad) {
      assert.match(flowKeyProblem(key) ?? '', message, JSON.stringify(key));
      assert.throws(() => assertFlowKey(key), { name: 'PoolError', code: 'RGW_POOL_INVALID' });
    }
  });
});
