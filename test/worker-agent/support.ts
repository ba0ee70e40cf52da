/**
 * Shared by the workers API, service, agent and CLI tests: a MappingBackend that records what it is asked to do
 * (and checks the contract while doing it), and a gateway side (service + API server) on loopback.
 */
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import type { Counters } from '../../src/workers/accounting.js';
import { type MappingBackend, leaseId } from '../../src/workers/mapping-backend.js';
import type { WorkersConfig } from '../../src/workers/config.js';
import type { Lease, LeaseDiff } from '../../src/workers/lease.js';
import { WorkersApiServer } from '../../src/workers/api/server.js';
import { WorkersService, type WorkersServiceOptions } from '../../src/workers/service.js';
import { type LogLine, memoryLogger } from '../stun/support.js';
import { makeTempDir } from '../support/repo.js';
import { makeConfig, seededRandom } from '../workers/support.js';

import type { Drift } from '../../src/dataplane/kernel-verify.js';

export type BackendCall = { op: 'start'; leases: Lease[] } | { op: 'apply'; diff: LeaseDiff } | { op: 'stop' };

/**
 * Holds the mappings in a Map, as the kernel would. apply() refuses (throws, changing nothing) a diff that
 * removes a mapping it does not hold or adds one twice, so a service bug shows as a test failure; it also
 * fails when `failing` is set, and asserts no two applies overlap.
 */
export class RecordingBackend implements MappingBackend {
  readonly kind = 'nftables' as const;
  readonly mapped = new Map<string, Lease>();
  readonly calls: BackendCall[] = [];
  failing = false;
  /** Refuses any diff that adds a lease of this worker (a bad change inside a merged batch). */
  refuseWorker: string | undefined;
  /** Milliseconds each apply takes (to provoke overlapping requests). */
  delayMs = 0;
  counterValues = new Map<string, Counters>();
  running = false;
  private inApply = false;

  async start(leases: readonly Lease[]): Promise<void> {
    this.calls.push({ op: 'start', leases: [...leases] });
    this.mapped.clear();
    for (const l of leases) this.mapped.set(leaseId(l), l);
    this.running = true;
  }

  async apply(diff: LeaseDiff): Promise<void> {
    if (this.inApply) throw new Error('RecordingBackend: overlapping apply() calls');
    this.inApply = true;
    try {
      this.calls.push({ op: 'apply', diff });
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (!this.running) throw new Error('RecordingBackend: apply() while not started');
      if (this.failing) throw new Error('RecordingBackend: the kernel said no');
      if (diff.add.some((l) => l.worker === this.refuseWorker)) throw new Error(`RecordingBackend: the kernel said no to ${this.refuseWorker}`);
      // Checked before anything changes: a refused diff leaves the mappings as they were.
      const removed = new Set<string>();
      for (const l of diff.remove) {
        const id = leaseId(l);
        if (!this.mapped.has(id) || removed.has(id)) throw new Error(`RecordingBackend: remove of unmapped ${id}`);
        removed.add(id);
      }
      const added = new Set<string>();
      for (const l of diff.add) {
        const id = leaseId(l);
        if ((this.mapped.has(id) && !removed.has(id)) || added.has(id)) throw new Error(`RecordingBackend: add of mapped ${id}`);
        added.add(id);
      }
      for (const id of removed) this.mapped.delete(id);
      for (const l of diff.add) this.mapped.set(leaseId(l), l);
    } finally {
      this.inApply = false;
    }
  }

  async counters(): Promise<Map<string, Counters>> {
    return new Map([...this.counterValues].filter(([id]) => this.mapped.has(id)));
  }

  /** Its Map cannot drift. */
  async verify(): Promise<Drift[]> {
    return [];
  }

  async repair(leases: readonly Lease[]): Promise<void> {
    await this.start(leases);
  }

  async stop(): Promise<void> {
    this.calls.push({ op: 'stop' });
    this.mapped.clear();
    this.running = false;
  }

  applies(): LeaseDiff[] {
    return this.calls.flatMap((c) => (c.op === 'apply' ? [c.diff] : []));
  }

  /** Public ports mapped, `tcp/40012` style, sorted. */
  ports(): string[] {
    return [...this.mapped.keys()].sort();
  }
}

export const LOOPBACK_NET = '127.0.0.0/8';

export function loopbackConfig(over: Parameters<typeof makeConfig>[0] = {}): WorkersConfig {
  return makeConfig({ privateNetwork: LOOPBACK_NET, excludedAddresses: [], ...over });
}

export interface GatewaySide {
  service: WorkersService;
  server: WorkersApiServer;
  backend: RecordingBackend;
  lines: LogLine[];
  port: number;
  stateFile: string;
  /** Stops server and service (idempotent; also registered with t.after). */
  stop(): Promise<void>;
}

/** A started WorkersService with a RecordingBackend and its API server on 127.0.0.1, stopped after the test. */
export async function startGatewaySide(
  t: TestContext,
  over: Partial<WorkersServiceOptions> & { port?: number; backend?: RecordingBackend } = {},
): Promise<GatewaySide> {
  const { logger, lines } = memoryLogger('debug');
  const backend = over.backend ?? new RecordingBackend();
  const stateFile = over.stateFile ?? join(await makeTempDir('workers-state'), 'workers.json');
  const service = new WorkersService({
    config: loopbackConfig(),
    publicAddress: '100.64.1.130',
    heartbeatMs: 1000,
    random: seededRandom(1),
    countersIntervalMs: 0,
    ...over,
    backend,
    stateFile,
    log: logger,
  });
  await service.start();
  const server = new WorkersApiServer({ address: '127.0.0.1', port: over.port ?? 0, service, log: logger });
  await server.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    await service.stop();
  };
  t.after(stop);
  return { service, server, backend, lines, port: server.endpoint().port, stateFile, stop };
}

/** Lines at warn level (40) or above. */
export function warnings(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => l.level >= 40);
}
