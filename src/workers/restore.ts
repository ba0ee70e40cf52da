/**
 * Rebuilding a registry from saved state, possibly under a changed config. A registration survives whole or
 * not at all: it is dropped (and reported, for the log) when its worker is no longer configured, its address is
 * no longer allowed, a lease lies outside the port range, or it holds more leases than the quota now allows.
 * The public ports of dropped leases cool down like any released port. Saved cool-downs outside the range or
 * already over are forgotten; none runs longer than the configured cool-down from `now`.
 */
import { type CompiledConfig, addressRefusal } from './config.js';
import { type Lease, type Protocol, makeLease, serviceKey } from './lease.js';
import type { PortAllocator, RandomInt } from './port-allocator.js';
import type { Registration } from './registration.js';
import { type RegistryState, type SavedLease, stateProblems } from './state.js';

export interface RestoreOptions {
  /** Time of the restore, epoch ms. */
  now: number;
  random?: RandomInt;
  /**
   * Count every restored worker as seen at `now` (default true), so the gateway's own downtime does not expire
   * workers that could not reach it. False keeps the saved times (restore equals the saved registry exactly).
   */
  resetLastSeen?: boolean;
}

export type DropReason = 'unknown-worker' | 'address-outside-private-network' | 'port-outside-range' | 'quota-exceeded';

export interface DroppedRegistration {
  worker: string;
  reason: DropReason;
  message: string;
  leases: SavedLease[];
}

export interface RestoreResult<R> {
  registry: R;
  dropped: DroppedRegistration[];
}

/** The insides of a fresh registry, which restoreInto fills. */
export interface RegistryParts {
  readonly config: CompiledConfig;
  readonly allocators: Record<Protocol, PortAllocator>;
  readonly registrations: Map<string, Registration>;
}

/** Fills a fresh registry; throws on an inconsistent state (decodeState reports those as corrupt). */
export function restoreInto(parts: RegistryParts, state: RegistryState, now: number, resetLastSeen: boolean): DroppedRegistration[] {
  const problems = stateProblems(state);
  if (problems.length > 0) throw new Error(`registry state is inconsistent: ${problems.join('; ')}`);
  const { config, allocators, registrations } = parts;
  const [start, end] = config.ports;
  const dropped: DroppedRegistration[] = [];
  const cooling: { protocol: Protocol; port: number; until: number }[] = [];
  const horizon = now + config.coolDownMs;

  for (const saved of state.registrations) {
    const drop = (reason: DropReason, message: string) => {
      dropped.push({ worker: saved.worker, reason, message, leases: saved.leases.map((l) => ({ ...l })) });
      for (const l of saved.leases) {
        if (l.publicPort >= start && l.publicPort <= end) cooling.push({ protocol: l.protocol, port: l.publicPort, until: horizon });
      }
    };
    const worker = config.workers.get(saved.worker);
    if (worker === undefined) {
      drop('unknown-worker', `worker ${saved.worker} is no longer configured`);
      continue;
    }
    const outside = addressRefusal(config, saved.address);
    if (outside !== undefined) {
      drop('address-outside-private-network', outside);
      continue;
    }
    const stray = saved.leases.find((l) => l.publicPort < start || l.publicPort > end);
    if (stray !== undefined) {
      drop('port-outside-range', `public port ${stray.publicPort} is outside ${start}-${end}`);
      continue;
    }
    if (saved.leases.length > worker.quota) {
      drop('quota-exceeded', `${saved.leases.length} leases, the quota of ${worker.name} is now ${worker.quota}`);
      continue;
    }
    const leases = new Map<string, Lease>();
    for (const l of saved.leases) {
      allocators[l.protocol].claim(l.publicPort);
      leases.set(serviceKey(l), makeLease(worker.name, l, l.publicPort, saved.address));
    }
    const lastSeen = resetLastSeen ? Math.max(saved.lastSeen, now) : saved.lastSeen;
    registrations.set(worker.name, { worker: worker.name, address: saved.address, lastSeen, leases });
  }

  for (const c of state.coolDowns) {
    if (c.publicPort < start || c.publicPort > end || c.until <= now) continue;
    cooling.push({ protocol: c.protocol, port: c.publicPort, until: Math.min(c.until, horizon) });
  }
  // The allocators' FIFOs must be in order of `until`; every later release ends at or after `horizon`.
  cooling.sort((a, b) => a.until - b.until);
  for (const c of cooling) allocators[c.protocol].coolDown(c.port, c.until);
  return dropped;
}
