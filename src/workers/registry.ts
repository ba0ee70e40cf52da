/**
 * The worker registry: who is registered from where, and which public port each of their services holds.
 *
 * Pure and deterministic: time is passed in (`now`, epoch ms, as the state file stores it; a smaller `now`
 * than one seen before counts as the latest seen), randomness is a function (default crypto.randomInt).
 * Every call that changes mappings returns the exact change as a LeaseDiff; refusals change nothing at all.
 *
 * Invariants (test/workers/registry.property.test.ts): a (protocol, public port) is held by at most one lease;
 * no worker holds more leases than its quota; a registration gets every port it asked for or none; a released
 * port is not leased again before its cool-down ends; a lease's target is the address the worker registered from.
 */
import { randomInt } from 'node:crypto';
import { type CompiledConfig, type CompiledWorker, type WorkersConfig, addressRefusal, compileConfig } from './config.js';
import { EMPTY_DIFF, type Lease, type LeaseDiff, PROTOCOLS, type Protocol, type Service, compareLeases, makeLease, serviceKey } from './lease.js';
import { PortAllocator, type RandomInt } from './port-allocator.js';
import { type From, type Refusal, checkServices, clip, peerAddress, refusal } from './request.js';
import { verifySecret } from './secret.js';
import type { RegistryState, SavedCoolDown, SavedLease } from './state.js';
import { restoreInto, type RestoreOptions, type RestoreResult } from './restore.js';
import type { Registration } from './registration.js';

const MAX_SECRET_LENGTH = 1024;

export interface RegistryOptions {
  /** Returns an integer in [min, max); default crypto.randomInt. Tests pass a seeded generator. */
  random?: RandomInt;
}

export interface Accepted {
  readonly ok: true;
  readonly worker: string;
  /** The worker's leases after the call, in canonical order (protocol, port). */
  readonly leases: readonly Lease[];
  /** What changed in the mappings (empty for a heartbeat). */
  readonly diff: LeaseDiff;
}

export type RegistryResult = Accepted | Refusal;

export interface ExpireResult extends LeaseDiff {
  /** Workers whose registrations expired, by name. */
  readonly expired: readonly string[];
}

export interface WorkerView {
  readonly name: string;
  readonly address: string;
  readonly lastSeen: number;
  readonly leases: readonly Lease[];
}

export interface RegistryStats {
  registered: number;
  leases: number;
  free: Record<Protocol, number>;
  coolingDown: Record<Protocol, number>;
}

export class Registry {
  private readonly config: CompiledConfig;
  private readonly allocators: Record<Protocol, PortAllocator>;
  private readonly registrations = new Map<string, Registration>();
  private readonly random: RandomInt;
  private clock = -Infinity;

  constructor(config: WorkersConfig, options: RegistryOptions = {}) {
    this.config = compileConfig(config);
    this.random = options.random ?? randomInt;
    const [start, end] = this.config.ports;
    this.allocators = { tcp: new PortAllocator(start, end), udp: new PortAllocator(start, end) };
  }

  /** A registry holding `state` (see restore.ts for what is kept, dropped, and why). */
  static restore(config: WorkersConfig, state: RegistryState, options: RestoreOptions): RestoreResult<Registry> {
    const registry = new Registry(config, options);
    const { config: compiled, allocators, registrations } = registry;
    const dropped = restoreInto({ config: compiled, allocators, registrations }, state, registry.tick(options.now), options.resetLastSeen ?? true);
    return { registry, dropped };
  }

  /**
   * Registers `name` from `from.address` (the connection's peer, the only address ever mapped to) with exactly
   * `services`: services held before keep their public ports, new ones get random free ports, undeclared ones
   * are released. All or nothing.
   */
  register(name: string, secret: string, from: From, services: readonly Service[], now: number): RegistryResult {
    const t = this.tick(now);
    const worker = this.authenticate(name, secret);
    if (!isWorker(worker)) return worker;
    const address = peerAddress(from);
    if (typeof address !== 'string') return refusal('bad-request', name, address.reason);
    const outside = addressRefusal(this.config, address);
    if (outside !== undefined) return refusal('address-outside-private-network', name, outside);
    const wanted = checkServices(services);
    if (!Array.isArray(wanted)) return refusal('bad-request', name, wanted.reason);
    if (wanted.length > worker.quota) {
      return refusal('quota-exceeded', name, `${wanted.length} services declared, the quota of ${worker.name} is ${worker.quota}`);
    }

    const held = this.registrations.get(name)?.leases ?? new Map<string, Lease>();
    const fresh = wanted.filter((s) => !held.has(serviceKey(s)));
    for (const protocol of PROTOCOLS) {
      const need = fresh.filter((s) => s.protocol === protocol).length;
      const allocator = this.allocators[protocol];
      allocator.promote(t);
      if (need > allocator.freeCount) {
        return refusal(
          'range-exhausted',
          name,
          `${need} new ${protocol} ports needed, ${allocator.freeCount} free (${allocator.coolingCount} cooling down) ` +
            `in ${this.config.ports[0]}-${this.config.ports[1]}`,
        );
      }
    }

    const add: Lease[] = [];
    const remove: Lease[] = [];
    const leases = new Map<string, Lease>();
    for (const s of wanted) {
      const key = serviceKey(s);
      const old = held.get(key);
      if (old !== undefined && old.target.address === address) {
        leases.set(key, old);
        continue;
      }
      const publicPort = old?.publicPort ?? this.allocators[s.protocol].take(this.random);
      const lease = makeLease(worker.name, s, publicPort, address);
      if (old !== undefined) remove.push(old); // moved: same public port, new target
      add.push(lease);
      leases.set(key, lease);
    }
    for (const [key, old] of held) {
      if (leases.has(key)) continue;
      this.allocators[old.protocol].release(old.publicPort, t + this.config.coolDownMs);
      remove.push(old);
    }
    this.registrations.set(worker.name, { worker: worker.name, address, lastSeen: t, leases });
    return accepted(worker.name, leases, { add: add.sort(compareLeases), remove: remove.sort(compareLeases) });
  }

  /** Keeps a registration alive. Never changes a mapping: a worker that moved must register again. */
  heartbeat(name: string, secret: string, from: From, now: number): RegistryResult {
    const t = this.tick(now);
    const worker = this.authenticate(name, secret);
    if (!isWorker(worker)) return worker;
    const address = peerAddress(from);
    if (typeof address !== 'string') return refusal('bad-request', name, address.reason);
    const reg = this.registrations.get(worker.name);
    if (reg === undefined) return refusal('not-registered', name, `${worker.name} is not registered; register again`);
    if (reg.address !== address) {
      return refusal('address-mismatch', name, `${worker.name} registered from ${reg.address}, not ${address}; register again`);
    }
    reg.lastSeen = t;
    return accepted(worker.name, reg.leases, EMPTY_DIFF);
  }

  /** Releases every lease of the worker. Deregistering a worker that holds no registration changes nothing. */
  deregister(name: string, secret: string, now: number): RegistryResult {
    const t = this.tick(now);
    const worker = this.authenticate(name, secret);
    if (!isWorker(worker)) return worker;
    return accepted(worker.name, new Map(), this.evict(worker.name, t));
  }

  /** Releases the leases of every worker last seen more than the heartbeat timeout before `now`. */
  expire(now: number): ExpireResult {
    const t = this.tick(now);
    const expired: string[] = [];
    const remove: Lease[] = [];
    for (const reg of this.registrations.values()) {
      if (t - reg.lastSeen > this.config.heartbeatTimeoutMs) expired.push(reg.worker);
    }
    for (const name of expired.sort()) remove.push(...this.evict(name, t).remove);
    return { add: [], remove, expired };
  }

  /**
   * Drops a registration without its secret: for the gateway itself (a mapping the kernel refused, an
   * operator's command). Empty diff when the worker holds none.
   */
  evict(name: string, now: number): LeaseDiff {
    const t = this.tick(now);
    const reg = this.registrations.get(name);
    if (reg === undefined) return EMPTY_DIFF;
    const remove = [...reg.leases.values()].sort(compareLeases);
    for (const lease of remove) this.allocators[lease.protocol].release(lease.publicPort, t + this.config.coolDownMs);
    this.registrations.delete(name);
    return { add: [], remove };
  }

  /** Every lease, in canonical order: what the kernel should hold (a full sync installs exactly this). */
  leases(): Lease[] {
    const out: Lease[] = [];
    for (const reg of this.registrations.values()) out.push(...reg.leases.values());
    return out.sort(compareLeases);
  }

  /** One worker's registration, if it holds one (O(its leases), for per-change listeners). */
  worker(name: string): WorkerView | undefined {
    const r = this.registrations.get(name);
    return r === undefined ? undefined : { name: r.worker, address: r.address, lastSeen: r.lastSeen, leases: sortedLeases(r.leases) };
  }

  workers(): WorkerView[] {
    return [...this.registrations.values()]
      .map((r) => ({ name: r.worker, address: r.address, lastSeen: r.lastSeen, leases: sortedLeases(r.leases) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  stats(): RegistryStats {
    let leases = 0;
    for (const reg of this.registrations.values()) leases += reg.leases.size;
    const { tcp, udp } = this.allocators;
    if (Number.isFinite(this.clock)) for (const a of [tcp, udp]) a.promote(this.clock);
    return {
      registered: this.registrations.size,
      leases,
      free: { tcp: tcp.freeCount, udp: udp.freeCount },
      coolingDown: { tcp: tcp.coolingCount, udp: udp.coolingCount },
    };
  }

  /**
   * The state to persist, in canonical order; restore(config, snapshot(), {now}) rebuilds this registry.
   * `canonical: false` skips the sorting (restore does not need it): for an undo point taken before every
   * change, where sorting 5,000 leases each time was a tenth of the cost of registering 1,000 workers.
   */
  snapshot(opts: { canonical?: boolean } = {}): RegistryState {
    const canonical = opts.canonical ?? true;
    const views = canonical ? this.workers() : [...this.registrations.values()].map((r) => ({ name: r.worker, address: r.address, lastSeen: r.lastSeen, leases: [...r.leases.values()] }));
    const registrations = views.map((w) => ({
      worker: w.name,
      address: w.address,
      lastSeen: w.lastSeen,
      leases: w.leases.map((l): SavedLease => ({ protocol: l.protocol, port: l.target.port, publicPort: l.publicPort })),
    }));
    const coolDowns: SavedCoolDown[] = [];
    for (const protocol of PROTOCOLS) {
      const running = this.allocators[protocol].coolDowns(this.clock);
      if (canonical) running.sort((a, b) => a.port - b.port);
      for (const c of running) coolDowns.push({ protocol, publicPort: c.port, until: c.until });
    }
    return { registrations, coolDowns };
  }

  /** Advances the clock to `now` (never back) and returns it. */
  private tick(now: number): number {
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError(`registry: now must be a finite number, got ${String(now)}`);
    if (now > this.clock) this.clock = now;
    return this.clock;
  }

  private authenticate(name: unknown, secret: unknown): CompiledWorker | Refusal {
    if (typeof name !== 'string') return refusal('bad-request', undefined, 'the worker name must be a string');
    if (typeof secret !== 'string') return refusal('bad-request', name, 'the secret must be a string');
    const worker = this.config.workers.get(name);
    if (worker === undefined) return refusal('unknown-worker', name, `no worker named ${JSON.stringify(clip(name))} is configured`);
    // No secret is this long (generateSecret makes 43 characters): refuse without hashing a flood of bytes.
    if (secret.length > MAX_SECRET_LENGTH || !verifySecret(secret, worker.hash)) return refusal('bad-secret', name, `wrong secret for worker ${worker.name}`);
    return worker;
  }
}

function isWorker(w: CompiledWorker | Refusal): w is CompiledWorker {
  return !('ok' in w);
}

function sortedLeases(leases: Map<string, Lease>): Lease[] {
  return [...leases.values()].sort(compareLeases);
}

function accepted(worker: string, leases: Map<string, Lease>, diff: LeaseDiff): Accepted {
  return { ok: true, worker, leases: sortedLeases(leases), diff };
}
