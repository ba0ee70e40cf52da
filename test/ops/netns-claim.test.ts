import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NetnsClaim } from '../../src/ops/netns-claim.js';

// A random name: the abstract namespace is shared by everything in this network namespace, other tests included.
const name = () => `realmgw-test-claim-${randomBytes(6).toString('hex')}`;

test('a second claim in the same network namespace is refused with the holder named; released, it can be taken again', async () => {
  const n = name();
  const first = await NetnsClaim.take(n);
  await assert.rejects(NetnsClaim.take(n), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'RGW_ALREADY_RUNNING');
    assert.match(err.message, new RegExp(`^another realmgw holds @${n} \\(this network namespace\\): pid ${process.pid} \\(\\S*node`));
    return true;
  });
  await first.release();
  const again = await NetnsClaim.take(n);
  await again.release();
});
