import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_SECRET_LENGTH, generateSecret, hashSecret, parseSecretHash, verifySecret } from '../../src/workers/secret.js';

describe('worker secrets', () => {
  const secret = generateSecret();
  const hash = hashSecret(secret);

  it('generates 256-bit base64url secrets, different each time', () => {
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(generateSecret(), secret);
  });

  it('stores only a salted hash, never the secret', () => {
    assert.match(hash, /^sha256:[0-9a-f]{32}:[0-9a-f]{64}$/);
    assert.ok(!hash.includes(secret));
    assert.notEqual(hashSecret(secret), hash, 'a fresh salt each time');
  });

  it('verifies the right secret and nothing else', () => {
    const parsed = parseSecretHash(hash)!;
    assert.equal(verifySecret(secret, parsed), true);
    for (const wrong of ['', secret.slice(1), `${secret}x`, secret.toUpperCase(), generateSecret()]) {
      assert.equal(verifySecret(wrong, parsed), false, wrong);
    }
    assert.equal(verifySecret(undefined as unknown as string, parsed), false);
  });

  it('is deterministic for a given salt', () => {
    const salt = Buffer.alloc(16, 1);
    assert.equal(hashSecret('a'.repeat(MIN_SECRET_LENGTH), salt), hashSecret('a'.repeat(MIN_SECRET_LENGTH), salt));
  });

  it('refuses to hash secrets too short to be tokens, and short salts', () => {
    assert.throws(() => hashSecret('hunter2'), /at least 22 characters/);
    assert.throws(() => hashSecret(secret, Buffer.alloc(8)), /salt/);
  });

  const malformed: [string, unknown][] = [
    ['nothing', undefined],
    ['empty', ''],
    ['no fields', 'sha256:'],
    ['another algorithm', `md5:${'0'.repeat(32)}:${'0'.repeat(64)}`],
    ['odd salt', `sha256:${'0'.repeat(31)}:${'0'.repeat(64)}`],
    ['short digest', `sha256:${'0'.repeat(32)}:${'0'.repeat(63)}`],
    ['not hex', `sha256:${'g'.repeat(32)}:${'0'.repeat(64)}`],
    ['the secret itself', secret],
  ];
  for (const [name, bad] of malformed) {
    it(`parseSecretHash refuses ${name}`, () => assert.equal(parseSecretHash(bad), undefined));
  }
});
