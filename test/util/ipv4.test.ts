import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv4, isIpv4, parseIpv4 } from '../../src/util/ipv4.js';

test('parseIpv4 is the inverse of formatIpv4 on every address', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => assert.equal(parseIpv4(formatIpv4(n)), n)));
});

test('parseIpv4 accepts exactly what isIpv4 accepts (dotted quads, no leading zeros, no spaces)', () => {
  const piece = fc.oneof(fc.constantFrom('0', '00', '01', '255', '256', '999', '', ' 1', '1 ', 'a', '-1'), fc.nat(300).map(String));
  const text = fc.oneof(fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join('.')), fc.string());
  fc.assert(
    fc.property(text, (t) => {
      let parsed: number | undefined;
      try {
        parsed = parseIpv4(t);
      } catch {
        parsed = undefined;
      }
      assert.equal(parsed !== undefined, isIpv4(t), JSON.stringify(t));
    }),
  );
});
