/**
 * The CNAME challenge (Realm Gateway's PBRA): an unproven query for a service name is answered with a CNAME to a
 * one-time random alias under the alias zone; only whoever received that answer - at the address the query
 * came from - can ask for the alias, so the follow-up proves the address. The follow-up may come from another
 * resolver of the same farm; the caller merges the two resolvers' reputation groups then.
 *
 * Bounded against spoofed floods, which create an entry per query: at most `maxPending` aliases live at once
 * and each lives `windowMs`; when full, `issue` says no and the caller falls back to another challenge (TC=1).
 * Labels are 8 base32 characters (40 random bits), the most that keeps the challenge within 1.5 times the
 * size of a typical resolver's query (challenge-replies.ts): with 10,000 aliases pending a blind guess hits one
 * with probability ~1e-8, and a hit buys one proven query, still subject to reputation and budget.
 * Pure: time and randomness are injected.
 */
import { randomBytes } from 'node:crypto';

export interface AliasGrant {
  /** Canonical name of the original question (the service name). */
  qname: string;
  qtype: number;
  /** Address of the resolver the challenge was sent to. */
  resolver: string;
  issuedAt: number;
}

export interface AliasChallengesOptions {
  /** Canonical zone the aliases live in (one of ours): aliases are `<label>.<zone>`. */
  zone: string;
  windowMs: number;
  maxPending: number;
  random?: (n: number) => Buffer;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
export const ALIAS_LABEL_LENGTH = 8;
const LABEL_LENGTH = ALIAS_LABEL_LENGTH;
const LABEL = /^[a-z2-7]{8}$/;

export class AliasChallenges {
  private readonly pending = new Map<string, AliasGrant>();
  /** Labels in issue order (issue times never decrease), so expiry pops from the front. */
  private readonly order: string[] = [];
  private head = 0;
  private readonly suffix: string;
  private readonly random: (n: number) => Buffer;

  constructor(private readonly opts: AliasChallengesOptions) {
    this.suffix = '.' + opts.zone;
    this.random = opts.random ?? randomBytes;
  }

  get zone(): string {
    return this.opts.zone;
  }

  get size(): number {
    return this.pending.size;
  }

  /** A new alias label for `grant` (the alias is `<label>.<zone>`), or undefined while the table is full. */
  issue(grant: Omit<AliasGrant, 'issuedAt'>, now: number): string | undefined {
    this.expire(now);
    if (this.pending.size >= this.opts.maxPending) return undefined;
    let label: string;
    do label = this.newLabel();
    while (this.pending.has(label));
    this.pending.set(label, { ...grant, issuedAt: now });
    this.order.push(label);
    return label;
  }

  /** Whether `qname` has the shape of one of our aliases (whether or not it is pending). */
  isAlias(qname: string): boolean {
    return qname.endsWith(this.suffix) && LABEL.test(qname.slice(0, qname.length - this.suffix.length));
  }

  /** The grant of a pending alias, removed (one use); undefined when unknown, used or expired. */
  redeem(qname: string, now: number): AliasGrant | undefined {
    if (!this.isAlias(qname)) return undefined;
    this.expire(now);
    const label = qname.slice(0, qname.length - this.suffix.length);
    const grant = this.pending.get(label);
    if (grant) this.pending.delete(label);
    return grant;
  }

  private expire(now: number): void {
    while (this.head < this.order.length) {
      const label = this.order[this.head]!;
      const g = this.pending.get(label);
      if (g && now - g.issuedAt < this.opts.windowMs) break;
      if (g) this.pending.delete(label);
      this.head++;
    }
    // Redeemed labels stay in `order` until they reach the front; compact so the array never outgrows 2x.
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  private newLabel(): string {
    const bytes = this.random(5);
    let bits = 0n;
    for (const b of bytes) bits = (bits << 8n) | BigInt(b);
    let out = '';
    for (let i = 0; i < LABEL_LENGTH; i++) {
      out += ALPHABET[Number(bits & 31n)];
      bits >>= 5n;
    }
    return out;
  }
}
