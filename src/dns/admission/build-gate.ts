/**
 * The WAN allocation gate from the `pbra` settings (realmgw's section or Realm Gateway's policy file) and the
 * pool it guards. Realm Gateway's proof names map onto realmgw's challenges: cookie -> BADCOOKIE with a fresh
 * server cookie, cname -> the one-time alias, tcp -> TC=1.
 */
import type { CircularPool } from '../../pool/circular-pool.js';
import { Pbra, type PbraSettings, type Proof } from '../../pbra/index.js';
import { AliasChallenges } from '../proof/alias-challenges.js';
import { CookieSecrets } from '../proof/cookie-secrets.js';
import type { Challenge, ProofPolicy } from './address-proof.js';
import { AllocationGate } from './allocation-gate.js';

const CHALLENGE: Record<Proof, Challenge> = { cookie: 'badcookie', cname: 'cname', tcp: 'tc' };

export function proofPolicyOf(settings: PbraSettings): ProofPolicy {
  const { udp, tcp, followUpOverUdp } = settings.proofs;
  return { required: udp.length > 0, challenges: udp.map((p) => CHALLENGE[p]), tcpCname: tcp.includes('cname'), followUpOverUdp };
}

export interface GateDeps {
  pool: CircularPool;
  /** Monotonic milliseconds. */
  now: () => number;
  udpPayloadSize: number;
  /** Zone for the one-time aliases when the settings name none (one of ours). */
  defaultAliasZone: string;
  /** The 16-byte cookie secret read from settings.cookies.secretFile, if any. */
  cookieSecret?: Buffer;
}

export function buildGate(settings: PbraSettings, deps: GateDeps): AllocationGate {
  const policy = proofPolicyOf(settings);
  const wantsCookies = settings.proofs.udp.includes('cookie');
  const wantsAliases = settings.proofs.udp.includes('cname') || policy.tcpCname;
  const { pool, now } = deps;
  return new AllocationGate({
    policy,
    cookies: wantsCookies ? new CookieSecrets({ rotateMs: settings.cookies.rotateMs, secret: deps.cookieSecret }) : undefined,
    aliases: wantsAliases
      ? new AliasChallenges({ zone: settings.cname.zone ?? deps.defaultAliasZone, windowMs: settings.cname.windowMs, maxPending: settings.cname.maxPending })
      : undefined,
    pbra: new Pbra(settings, now()),
    ecsPrefixLength: settings.ecsPrefixIpv4,
    udpPayloadSize: deps.udpPayloadSize,
    now,
    wallSeconds: () => Math.floor(Date.now() / 1000),
    poolSize: () => pool.size,
    poolLive: () => pool.liveCount,
    wouldShare: (key) => {
      const address = pool.nextAddressFor(key);
      return address !== undefined && pool.holds(address);
    },
  });
}
