/**
 * The gateway side of workers behind NAT: owns the Registry, the kernel MappingBackend and the state file, and
 * keeps the three in agreement.
 *
 * Every change runs alone, in arrival order: registry change -> backend.apply(diff) -> answer, with the state
 * file written before the answer (writes are coalesced, so a burst of registrations costs a few writes, not one
 * each). When the kernel refuses a diff (the backend leaves the kernel as it was), the registry is rebuilt from
 * the snapshot taken before the change, so the registry never holds a lease the kernel does not.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { GroupCommit } from '../util/group-commit.js';
import { type Counters, type LeaseAccount, ZERO_COUNTERS, addCounters, mergeSample } from './accounting.js';
import { type MappingBackend, leaseId } from './mapping-backend.js';
import type { WorkersConfig } from './config.js';
import { type Lease, type LeaseDiff, type Service, formatEndpoint } from './lease.js';
import type { RandomInt } from './port-allocator.js';
import { Registry } from './registry.js';
import type { From, RefusalCode } from './request.js';
import type { RegistryState } from './state.js';
import { StateWriter, readStateFile } from './state-file.js';
import type { NatSummary, WorkerRow, WorkersView } from './view-model.js';
import type { Drift } from '../dataplane/kernel-verify.js';

export interface WorkersServiceOptions {
  config: WorkersConfig;
  backend: MappingBackend;
  stateFile: string;
  /** The gateway's public address: every endpoint is on it. */
  publicAddress: string;
  /** Heartbeat interval told to workers (the timeout is config.heartbeatTimeoutMs). */
  heartbeatMs: number;
  log: Logger;
  /** How often expired workers are looked for (default: a quarter of the timeout, at most 1 s). */
  expireIntervalMs?: number;
  /** How often the kernel counters are read for accounting (default 5 s; 0: only on refreshCounters()). */
  countersIntervalMs?: number;
  /** Epoch ms (default Date.now): the state file stores these times. */
  now?: () => number;
  random?: RandomInt;
}

export type ServiceFailureCode = RefusalCode | 'backend-failed' | 'unavailable';

export type ServiceOutcome =
  | { readonly ok: true; readonly worker: string; readonly address: string; readonly leases: readonly Lease[] }
  | { readonly ok: false; readonly code: ServiceFailureCode; readonly worker?: string; readonly message: string };

/** What DNS publishes: per registered worker, its leases (`<worker>.<zone>` A, `_<port>._<proto>` SRV). */
export interface WorkerRecord {
  readonly address: string;
  readonly leases: readonly Lease[];
}
export type WorkerRecords = ReadonlyMap<string, WorkerRecord>;

export class WorkersService {
  readonly publicAddress: string;
  readonly heartbeatMs: number;
  private registry: Registry;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: RandomInt;
  private readonly saver: CoalescingSaver;
  private readonly nat = new Map<string, NatSummary>();
  private readonly accounts = new Map<string, LeaseAccount>();
  private readonly changeListeners = new Set<(changed: ReadonlyMap<string, WorkerRecord | undefined>) => void>();
  private readonly changes: GroupCommit<Step, StepResult>;
  private timers: NodeJS.Timeout[] = [];
  private state: 'new' | 'running' | 'stopped' = 'new';
  private refreshing: Promise<void> | undefined;
  /** A drift repair waiting for the next batch, which runs it alone before its changes (remap). */
  private remapNext: { resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(private readonly opts: WorkersServiceOptions) {
    this.publicAddress = opts.publicAddress;
    this.heartbeatMs = opts.heartbeatMs;
    this.log = opts.log.child({ component: 'workers' });
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? randomInt;
    // Validates the config now (WorkersConfigError), before anything is started.
    this.registry = new Registry(opts.config, { random: this.random });
    this.saver = new CoalescingSaver(new StateWriter(opts.stateFile), () => this.registry.snapshot());
    this.changes = new GroupCommit<Step, StepResult>(
      { commit: (steps) => this.runBatch(steps), closedError: () => new Error('workers service stopped') },
      { maxMerge: MAX_BATCH },
    );
  }

  /**
   * Restores registrations from the state file (same public ports as before the restart), maps them in the
   * kernel, and starts the expiry and accounting timers. A state file that cannot be used is an error: the
   * operator decides (its message names the file); starting empty would hand workers' ports to others.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('workers service: start() called twice');
    const saved = await readStateFile(this.opts.stateFile);
    if (saved !== undefined) {
      const { registry, dropped } = Registry.restore(this.opts.config, saved, { now: this.now(), random: this.random });
      for (const d of dropped) this.log.warn({ worker: d.worker, reason: d.reason, leases: d.leases.length }, `restored state: dropped registration: ${d.message}`);
      this.registry = registry;
    }
    const leases = this.registry.leases();
    await this.opts.backend.start(leases);
    this.state = 'running';
    try {
      await this.saver.request();
    } catch (err) {
      this.state = 'stopped';
      await this.opts.backend.stop();
      throw err;
    }
    const timeout = this.opts.config.heartbeatTimeoutMs;
    this.every(this.opts.expireIntervalMs ?? Math.min(1000, Math.max(10, timeout / 4)), () => void this.expire());
    const countersMs = this.opts.countersIntervalMs ?? 5000;
    if (countersMs > 0) this.every(countersMs, () => void this.refreshCounters());
    this.log.info({ workers: this.registry.workers().length, leases: leases.length, backend: this.opts.backend.kind, stateFile: this.opts.stateFile }, 'workers service started');
    // restored workers' names are in DNS before the gateway answers its first query
    this.notifyChanged(this.records());
  }

  /** What of the backend's fixed kernel state drifted (mapping-backend.ts, verify). */
  async verify(): Promise<Drift[]> {
    return this.state === 'running' ? this.opts.backend.verify() : [];
  }

  /**
   * Drift repair: the backend puts back what drifted, with every lease of the registry, between two batches
   * of changes, so no change is half applied to what is being replaced.
   */
  remap(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => (this.remapNext = { resolve, reject }));
    // an empty step: it only makes the engine run a batch, which runs the remap first
    void this.changes.submit(() => ({ ok: false, code: 'bad-request', message: 'drift repair, no change' })).catch((err: unknown) => {
      this.remapNext?.reject(err); // the engine is closed: no batch will ever run it
      this.remapNext = undefined;
    });
    return done;
  }

  /** Stops the timers, lets running changes finish, removes the kernel mappings. The state file stays. */
  async stop(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.changes.idle();
    await this.saver.idle();
    await this.refreshing;
    await this.opts.backend.stop();
    this.log.info('workers service stopped');
  }

  register(name: string, secret: string, from: From, services: readonly Service[], nat?: NatSummary): Promise<ServiceOutcome> {
    return this.change(() => {
      const r = this.registry.register(name, secret, from, services, this.now());
      return r.ok ? { ...r, kind: 'register', address: from.address, nat } : r;
    });
  }

  heartbeat(name: string, secret: string, from: From): Promise<ServiceOutcome> {
    return this.change(() => {
      const r = this.registry.heartbeat(name, secret, from, this.now());
      return r.ok ? { ...r, kind: 'heartbeat', address: from.address } : r;
    });
  }

  deregister(name: string, secret: string): Promise<ServiceOutcome> {
    return this.change(() => {
      const r = this.registry.deregister(name, secret, this.now());
      return r.ok ? { ...r, kind: 'deregister', address: '' } : r;
    });
  }

  /** Releases the leases of workers not heard from within the timeout (the timer calls this). */
  expire(): Promise<void> {
    return this.change(() => {
      const r = this.registry.expire(this.now());
      if (r.expired.length > 0) this.log.info({ workers: r.expired, leases: r.remove.length }, 'workers expired (no heartbeat)');
      return { ok: true, kind: 'expire', worker: '', address: '', leases: [], diff: r, expired: r.expired };
    }).then(() => undefined);
  }

  /** Every registered worker with its leases, for DNS. */
  records(): WorkerRecords {
    return new Map(this.registry.workers().map((w) => [w.name, { address: w.address, leases: w.leases }]));
  }

  /**
   * Calls `listener` synchronously after every change that reached the kernel, with only the workers it
   * changed (undefined: the worker holds no registration any more), and once at start with every worker.
   * O(the change): rebuilding every worker's names after each of 1,000 registrations made them quadratic.
   */
  onWorkersChange(listener: (changed: ReadonlyMap<string, WorkerRecord | undefined>) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** For `realmgw workers`: registrations, endpoints and the counters of the last kernel reading. */
  view(): WorkersView {
    const workers = this.registry.workers().map((w): WorkerRow => {
      const leases = w.leases.map((l) => {
        const account = this.accounts.get(leaseId(l));
        const counters = account !== undefined && sameTarget(account.lease, l) ? account.total : ZERO_COUNTERS;
        return { endpoint: formatEndpoint(l, this.publicAddress), protocol: l.protocol, port: l.target.port, publicPort: l.publicPort, counters };
      });
      const totals = leases.reduce((sum: Counters, l) => addCounters(sum, l.counters), ZERO_COUNTERS);
      const nat = this.nat.get(w.name);
      return { name: w.name, address: w.address, lastSeen: w.lastSeen, ...(nat ? { nat } : {}), leases, totals };
    });
    return { publicAddress: this.publicAddress, workers };
  }

  /** view() after a fresh kernel reading. */
  async viewFresh(): Promise<WorkersView> {
    await this.refreshCounters();
    return this.view();
  }

  /** Reads the kernel counters into the lease accounts. A failed reading is logged; the accounts stay. */
  refreshCounters(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    this.refreshing ??= this.readCounters().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Settles when no change and no state-file write is pending (tests). */
  async idle(): Promise<void> {
    await this.changes.idle();
    await this.saver.idle();
  }

  private async readCounters(): Promise<void> {
    let samples: Map<string, Counters>;
    try {
      samples = await this.opts.backend.counters();
    } catch (err) {
      this.log.warn({ err }, 'cannot read the kernel counters of worker leases');
      return;
    }
    const now = this.now();
    const live = new Set<string>();
    for (const lease of this.registry.leases()) {
      const id = leaseId(lease);
      live.add(id);
      const sample = samples.get(id);
      if (sample !== undefined) this.accounts.set(id, mergeSample(this.accounts.get(id), lease, sample, now));
    }
    for (const id of this.accounts.keys()) if (!live.has(id)) this.accounts.delete(id);
  }

  /**
   * Queues one registry change; changes run in arrival order, group-committed (src/util/group-commit.ts), and
   * each is answered once the kernel holds its mappings and the state file holds the result.
   */
  private async change(step: Step): Promise<ServiceOutcome> {
    if (this.state !== 'running') return unavailable();
    const { outcome, save } = await this.changes.submit(step);
    if (save) {
      try {
        await this.saver.request();
      } catch (err) {
        // The mapping works; only its survival of a restart is at risk until the next write succeeds.
        this.log.error({ err }, 'cannot write the workers state file');
      }
    }
    return outcome;
  }

  /**
   * One group commit: every change queued while the kernel applied the previous batch goes into this one —
   * one undo point, one merged diff (one kernel transaction for nftables), instead of one each. When the
   * kernel refuses a merged diff, nothing of it is in the kernel; the registry goes back to the undo point and
   * the engine runs the batch's changes again one by one, so a bad change never takes good ones down with it.
   * A change refused alone is answered 'backend-failed'.
   */
  private async runBatch(steps: Step[]): Promise<StepResult[]> {
    const remap = this.remapNext;
    this.remapNext = undefined;
    if (this.state !== 'running') {
      remap?.resolve(); // stopped meanwhile: nothing of ours is to be in the kernel any more
      return steps.map(() => ({ outcome: unavailable(), save: false }));
    }
    if (remap) await this.opts.backend.repair(this.registry.leases()).then(remap.resolve, remap.reject);
    const before = this.registry.snapshot({ canonical: false });
    const results = steps.map((step) => step());
    const diff = mergeDiffs(results.flatMap((r) => (r.ok ? [r.diff] : [])));
    if (diff.add.length > 0 || diff.remove.length > 0) {
      try {
        await this.opts.backend.apply(diff);
      } catch (err) {
        this.undo(before);
        if (steps.length > 1) throw err;
        const r = results[0] as ChangeResult;
        this.log.error({ err, worker: r.worker || undefined, add: diff.add.length, remove: diff.remove.length }, 'the kernel refused a mapping change; registry change undone');
        return [{ outcome: { ok: false, code: 'backend-failed', worker: r.worker, message: 'the gateway could not install the mappings; try again later' }, save: false }];
      }
    }
    return results.map((r) => {
      if (!r.ok) return { outcome: r, save: false };
      this.afterChange(r);
      // A heartbeat only moves lastSeen, which a restart resets anyway: no write for it.
      const save = r.kind === 'register' || r.diff.add.length > 0 || r.diff.remove.length > 0;
      return { outcome: { ok: true, worker: r.worker, address: r.address, leases: r.leases }, save };
    });
  }

  private afterChange(r: ChangeResult): void {
    const changed = r.diff.add.length > 0 || r.diff.remove.length > 0;
    for (const name of r.expired ?? []) this.nat.delete(name);
    if (r.kind === 'deregister') {
      this.nat.delete(r.worker);
      if (changed) this.log.info({ worker: r.worker, released: r.diff.remove.length }, 'worker deregistered');
    }
    if (r.kind === 'register') {
      if (r.nat !== undefined) this.nat.set(r.worker, r.nat);
      const endpoints = r.leases.map((l) => formatEndpoint(l, this.publicAddress));
      // A re-registration that changes nothing is routine (after every gateway outage): debug only.
      this.log[changed ? 'info' : 'debug']({ worker: r.worker, address: r.address, endpoints, nat: r.nat }, 'worker registered');
    }
    if (changed) {
      const names = new Set([...(r.expired ?? []), ...(r.worker ? [r.worker] : [])]);
      for (const l of [...r.diff.add, ...r.diff.remove]) names.add(l.worker);
      const changedWorkers = new Map<string, WorkerRecord | undefined>();
      for (const name of names) {
        const w = this.registry.worker(name);
        changedWorkers.set(name, w && { address: w.address, leases: w.leases });
      }
      this.notifyChanged(changedWorkers);
    }
  }

  private notifyChanged(changed: ReadonlyMap<string, WorkerRecord | undefined>): void {
    for (const l of this.changeListeners) {
      try {
        l(changed);
      } catch (err) {
        this.log.error({ err }, 'a workers change listener failed');
      }
    }
  }

  private undo(before: RegistryState): void {
    this.registry = Registry.restore(this.opts.config, before, { now: this.now(), random: this.random, resetLastSeen: false }).registry;
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }
}

type Step = () => ChangeResult | { ok: false; code: RefusalCode; worker?: string; message: string };

interface StepResult {
  outcome: ServiceOutcome;
  /** The state file must be written before the answer. */
  save: boolean;
}

/** Changes merged into one kernel transaction at most. */
const MAX_BATCH = 256;

/**
 * The net kernel change of diffs applied in order: a lease added and removed again within them never reaches
 * the kernel; one removed and added back unchanged stays; one moved to another target is removed, then added.
 */
export function mergeDiffs(diffs: readonly LeaseDiff[]): LeaseDiff {
  if (diffs.length === 1) return diffs[0]!;
  const removes = new Map<string, Lease>();
  const adds = new Map<string, Lease>();
  for (const d of diffs) {
    for (const r of d.remove) {
      const id = leaseId(r);
      const added = adds.get(id);
      if (added !== undefined && sameMapping(added, r)) adds.delete(id);
      else removes.set(id, r);
    }
    for (const a of d.add) {
      const id = leaseId(a);
      const removed = removes.get(id);
      if (removed !== undefined && sameMapping(removed, a)) removes.delete(id);
      else adds.set(id, a);
    }
  }
  return { add: [...adds.values()], remove: [...removes.values()] };
}

function sameMapping(a: Lease, b: Lease): boolean {
  return a.worker === b.worker && a.target.address === b.target.address && a.target.port === b.target.port;
}

interface ChangeResult {
  ok: true;
  kind: 'register' | 'heartbeat' | 'deregister' | 'expire';
  /** '' for an expiry round. */
  worker: string;
  /** The mapping target; '' when the worker holds no registration afterwards. */
  address: string;
  leases: readonly Lease[];
  diff: LeaseDiff;
  nat?: NatSummary;
  /** Workers an expiry round removed. */
  expired?: readonly string[];
}

/** The account belongs to this lease (not to an earlier holder of the same public port). */
function sameTarget(a: Lease, b: Lease): boolean {
  return a.worker === b.worker && a.target.address === b.target.address && a.target.port === b.target.port;
}

function unavailable(): ServiceOutcome {
  return { ok: false, code: 'unavailable', message: 'the workers service is not running' };
}

/**
 * State-file writes for a stream of changes: a request made while a write runs is served by the next write,
 * which snapshots the registry when it begins, so N changes during one write cost one more write, not N.
 * Resolves once a write begun after the request has finished.
 */
class CoalescingSaver {
  private writing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly writer: StateWriter,
    private readonly snapshot: () => RegistryState,
  ) {}

  request(): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    if (this.writing === undefined) return this.begin();
    const queued = this.writing
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.begin();
      });
    this.queued = queued;
    return queued;
  }

  async idle(): Promise<void> {
    while (this.writing !== undefined || this.queued !== undefined) await (this.queued ?? this.writing)?.catch(() => {});
  }

  private begin(): Promise<void> {
    const p = this.writer.save(this.snapshot());
    this.writing = p;
    const clear = () => {
      if (this.writing === p) this.writing = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}
