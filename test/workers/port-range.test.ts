import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpLocalPortRange, validatePortRange } from '../../src/workers/port-range.js';

const CTX = { ephemeral: [32768, 60999] as const, reserved: [53, 80, 443, 20000] };

describe('validatePortRange', () => {
  const cases: { name: string; range: unknown; codes: string[]; mentions?: string[] }[] = [
    { name: 'usable range', range: [20001, 21000], codes: [] },
    { name: 'single port', range: [61000, 61000], codes: [] },
    { name: 'not a pair', range: [20001], codes: ['malformed'] },
    { name: 'not integers', range: [20001.5, 21000], codes: ['malformed'] },
    { name: 'strings', range: ['20001', '21000'], codes: ['malformed'] },
    { name: 'not a list', range: { start: 1, end: 2 }, codes: ['malformed'] },
    { name: 'port 0', range: [0, 100], codes: ['out-of-bounds'] },
    { name: 'above 65535', range: [65000, 65536], codes: ['out-of-bounds'] },
    { name: 'inverted', range: [21000, 20001], codes: ['inverted'], mentions: ['21000', '20001'] },
    { name: 'both out of bounds and inverted', range: [70000, -1], codes: ['out-of-bounds', 'out-of-bounds', 'inverted'] },
    { name: "SONM's default overlaps Linux's ephemeral range", range: [32768, 33768], codes: ['ephemeral-overlap'], mentions: ['32768-33768', 'ip_local_port_range'] },
    { name: 'touches the ephemeral range at its end', range: [60999, 61999], codes: ['ephemeral-overlap'], mentions: ['60999-60999'] },
    { name: 'ends just below the ephemeral range', range: [31768, 32767], codes: [] },
    { name: 'holds a reserved port', range: [19990, 20010], codes: ['reserved-overlap'], mentions: ['20000'] },
    { name: 'holds several reserved ports and overlaps ephemeral', range: [1, 40000], codes: ['ephemeral-overlap', 'reserved-overlap'], mentions: ['53, 80, 443, 20000'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = validatePortRange(c.range, CTX);
      assert.deepEqual(problems.map((p) => p.code), c.codes);
      for (const m of c.mentions ?? []) assert.ok(problems.some((p) => p.reason.includes(m)), `${m} in ${JSON.stringify(problems)}`);
    });
  }

  it('lists at most ten reserved ports and says how many there are', () => {
    const reserved = Array.from({ length: 25 }, (_, i) => 1000 + i);
    const [p] = validatePortRange([1000, 2000], { ephemeral: [32768, 60999], reserved: [...reserved, 1000] });
    assert.equal(p.code, 'reserved-overlap');
    assert.match(p.reason, /1000, 1001, .*1009, … \(25 in all\)$/);
  });
});

describe('parseIpLocalPortRange', () => {
  it('reads the /proc format', () => {
    assert.deepEqual(parseIpLocalPortRange('32768\t60999\n'), [32768, 60999]);
    assert.deepEqual(parseIpLocalPortRange('1024 65535'), [1024, 65535]);
  });
  for (const bad of ['', '32768', '60999 32768', '0 100', '1 70000', 'a b']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseIpLocalPortRange(bad), /ip_local_port_range/));
  }
});
