/** Builds the WAN allocation gate from settings and the pool it guards. */
import type { CircularPool } from '../../pool/circular-pool.js';
import { AliasChallenges } from '../proof/alias-challenges.js';
import { CookieSecrets } from '../proof/cookie-secrets.js';
import type { Challenge } from './address-proof.js';
import { AllocationGate, type Admission } from './allocation-gate.js';

export interface GateSettings {
  /** false: UDP queries reserve without a proof (the defences are off). */
  proofRequired: boolean;
  /** Challenges for unproven UDP queries, in order; TC=1 is the last resort whatever the list says. */
  challenges: Challenge[];
  cookies?: { rotateMs: number; secret?: Buffer };
  cname?: { zone: string; windowMs: number; maxPending: number };
  ecsPrefixLength: number;
  admission?: Admission;
}

export function buildGate(settings: GateSettings, pool: CircularPool, now: () => number, udpPayloadSize: number): AllocationGate {
  return new AllocationGate({
    policy: { required: settings.proofRequired, challenges: settings.challenges },
    cookies: settings.cookies && new CookieSecrets(settings.cookies),
    aliases: settings.cname && new AliasChallenges(settings.cname),
    admission: settings.admission,
    ecsPrefixLength: settings.ecsPrefixLength,
    udpPayloadSize,
    now,
    wallSeconds: () => Math.floor(Date.now() / 1000),
    poolSize: () => pool.size,
    poolLive: () => pool.stats.live,
    wouldShare: (key) => {
      const address = pool.nextAddressFor(key);
      return address !== undefined && pool.live(address).length > 0;
    },
  });
}
