/**
 * Which proof of address a query carries, and which challenge an unproven one gets (pure). A reservation is
 * only ever made for a requester whose address is proven: a query over TCP (the handshake proves it), a UDP
 * query with a valid server cookie (RFC 7873: only who received our answer there can echo it), or the
 * follow-up to a one-time CNAME alias (only who received the challenge knows the alias).
 *
 * TC=1 is the challenge of last resort: every resolver retries over TCP, so no configuration can leave a
 * legitimate client without a way in.
 */
import type { CookieCheck } from '../proof/cookies.js';

export type ProofKind = 'tcp' | 'cookie' | 'cname';
export type Challenge = 'badcookie' | 'cname' | 'tc';

export interface ProofPolicy {
  /** false: UDP queries may reserve unproven (the defences are off). */
  required: boolean;
  /** Challenges to try, in order, for an unproven UDP query; 'tc' is appended when missing. */
  challenges: readonly Challenge[];
  /** TCP is not proof enough: a TCP query gets the CNAME challenge too (Realm Gateway's TCP+CNAME mode). */
  tcpCname?: boolean;
  /** false: an alias follow-up over UDP is not accepted (it gets TC=1; Realm Gateway's TCPCNAME mode). */
  followUpOverUdp?: boolean;
}

export interface ProofContext {
  transport: 'udp' | 'tcp';
  /** Result of checking the query's COOKIE option; undefined when it has none (or cookies are off). */
  cookie?: CookieCheck;
  /** The query asks for a pending one-time alias. */
  aliasFollowUp?: boolean;
}

export function proofOf(policy: ProofPolicy, ctx: ProofContext): ProofKind | undefined {
  if (ctx.aliasFollowUp && (ctx.transport === 'tcp' || policy.followUpOverUdp !== false)) return 'cname';
  if (ctx.transport === 'tcp') return policy.tcpCname ? undefined : 'tcp';
  if (ctx.cookie?.kind === 'valid') return 'cookie';
  return undefined;
}

export interface ChallengeContext {
  /** The query carries a client cookie (so the client speaks RFC 7873). */
  hasClientCookie: boolean;
  /** The challenge reply fits the size bound (asked only when the CNAME is the next candidate). */
  cnameFits: () => boolean;
}

export function challengeFor(policy: ProofPolicy, ctx: ChallengeContext & { transport?: 'udp' | 'tcp' }): Challenge {
  if (ctx.transport === 'tcp') return 'cname'; // only asked when tcpCname; a TCP answer has no size bound
  if (policy.followUpOverUdp === false) return 'tc';
  for (const c of policy.challenges) {
    if (c === 'badcookie' && ctx.hasClientCookie) return c;
    if (c === 'cname' && ctx.cnameFits()) return c;
    if (c === 'tc') return c;
  }
  return 'tc';
}
