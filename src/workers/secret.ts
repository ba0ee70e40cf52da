/**
 * Worker secrets. The config holds only `sha256:<salt hex>:<digest hex>` with digest = SHA-256(salt ‖ secret);
 * a secret is compared by hashing what the worker sent and comparing digests in constant time.
 *
 * Why a fast hash and not scrypt: worker secrets are machine-generated tokens (`generateSecret`, 256 bits;
 * `hashSecret` refuses anything under 128 bits' worth of text), which no dictionary guesses, and every
 * registration and heartbeat is checked (1,000 workers register in well under a second). A slow KDF protects
 * human-chosen passwords, which these are not.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const HASH = /^sha256:([0-9a-f]{32,128}):([0-9a-f]{64})$/;
/** 22 base64 characters carry 128 bits; shorter secrets are refused when hashing. */
export const MIN_SECRET_LENGTH = 22;

/** A parsed secret hash, ready for constant-time comparison. */
export interface SecretHash {
  readonly salt: Buffer;
  readonly digest: Buffer;
}

/** A new random secret: 32 bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The config form of a secret's hash. Throws for a secret too short to be a token. */
export function hashSecret(secret: string, salt: Buffer = randomBytes(16)): string {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`a worker secret must be at least ${MIN_SECRET_LENGTH} characters (use generateSecret)`);
  }
  if (salt.length < 16) throw new Error('salt must be at least 16 bytes');
  return `sha256:${salt.toString('hex')}:${digestOf(salt, secret).toString('hex')}`;
}

/** Parses the config form; undefined when malformed (the config check reports it without echoing it). */
export function parseSecretHash(text: unknown): SecretHash | undefined {
  if (typeof text !== 'string') return undefined;
  const m = HASH.exec(text);
  if (m === null || m[1].length % 2 !== 0) return undefined;
  return Object.freeze({ salt: Buffer.from(m[1], 'hex'), digest: Buffer.from(m[2], 'hex') });
}

/** True iff `secret` hashes to `hash`. The digests are compared in constant time; the secret is never kept. */
export function verifySecret(secret: string, hash: SecretHash): boolean {
  if (typeof secret !== 'string') return false;
  return timingSafeEqual(digestOf(hash.salt, secret), hash.digest);
}

function digestOf(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}
