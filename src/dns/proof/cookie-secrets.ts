/**
 * The server's cookie secrets: a current one and the previous one, rotated on a schedule so a leaked or
 * brute-forced secret ages out, while cookies minted just before a rotation stay valid (RFC 9018 §4.4).
 * Time and randomness are injected; `at(nowMs)` rotates lazily, so no timer is needed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { secretKey } from './cookies.js';

export interface CookieSecretsOptions {
  /** How long a secret signs new cookies. Validation also accepts the previous one. */
  rotateMs: number;
  /** Fixed secret (16 bytes) instead of random ones: servers behind one anycast address share it. */
  secret?: Buffer;
  random?: (n: number) => Buffer;
}

export class CookieSecrets {
  private current: Uint32Array;
  private previous?: Uint32Array;
  private rotatedAt: number | undefined;
  private readonly random: (n: number) => Buffer;

  constructor(private readonly opts: CookieSecretsOptions) {
    this.random = opts.random ?? randomBytes;
    this.current = secretKey(opts.secret ?? this.random(16));
  }

  /** Keys to validate with, current first; mints with keys[0]. */
  at(nowMs: number): readonly Uint32Array[] {
    if (this.rotatedAt === undefined) this.rotatedAt = nowMs;
    if (!this.opts.secret && nowMs - this.rotatedAt >= this.opts.rotateMs) {
      // Two periods without traffic: the previous secret is too old to vouch for anything either.
      this.previous = nowMs - this.rotatedAt >= 2 * this.opts.rotateMs ? undefined : this.current;
      this.current = secretKey(this.random(16));
      this.rotatedAt = nowMs;
    }
    return this.previous ? [this.current, this.previous] : [this.current];
  }
}

/** A shared secret from a file: 32 hex digits (16 bytes), surrounding whitespace ignored. */
export function readCookieSecret(file: string): Buffer {
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-fA-F]{32}$/.test(text)) throw new Error(`${file}: a cookie secret is 32 hexadecimal digits (16 bytes)`);
  return Buffer.from(text, 'hex');
}
