/**
 * The worker agent: learns its NAT by STUN, registers its services with the gateway, keeps the registration
 * alive, and deregisters when told to stop.
 *
 * What goes wrong is a state, not a crash: a blocked or unreachable STUN server is a logged result; a gateway
 * that cannot be reached or refuses for a passing reason (range exhausted, kernel refused) is retried with
 * bounded backoff, and the next contact after an outage is a registration (idempotent: same public ports),
 * so a restarted gateway gets the full picture. Refusals no retry can fix (unauthorized, outside the private
 * network, over quota, a malformed request) stop the agent with the gateway's reason.
 */
import type { Logger } from 'pino';
import { discoverNat, type NatDiscovery } from '../stun/discover.js';
import { ApiRefusedError, WorkersApiClient } from '../workers/api/client.js';
import type { LeasesBody, NatSummary, WireErrorCode } from '../workers/api/protocol.js';
import type { WorkerAgentConfig } from './config.js';

/** Refusals that mean "register again" rather than "wait". */
const REREGISTER: readonly WireErrorCode[] = ['not-registered', 'address-mismatch'];
/** Refusals that will not change by waiting. */
const PERMANENT: readonly string[] = ['unauthorized', 'bad-request', 'address-outside-private-network', 'quota-exceeded', 'not-found', 'method-not-allowed', 'body-too-large', 'unknown'];

export class PermanentRefusal extends Error {
  constructor(readonly refusal: ApiRefusedError) {
    super(refusal.message);
    this.name = 'PermanentRefusal';
  }
}

export interface WorkerAgentOptions {
  /** Replaces STUN discovery (tests). */
  discover?: (config: NonNullable<WorkerAgentConfig['stun']>) => Promise<NatDiscovery>;
}

export class WorkerAgent {
  private readonly client: WorkersApiClient;
  private stopping = false;
  private wake: (() => void) | undefined;
  private nat: NatSummary | undefined;
  private lastDiscovery = 0;
  /** The last answer, to tell when the endpoints change. */
  private current: LeasesBody | undefined;
  private everRegistered = false;

  constructor(
    private readonly config: WorkerAgentConfig,
    private readonly log: Logger,
    private readonly opts: WorkerAgentOptions = {},
  ) {
    this.client = new WorkersApiClient({
      address: config.gateway.address,
      port: config.gateway.port,
      worker: config.name,
      secret: config.secret,
      timeoutMs: config.requestTimeoutMs,
    });
  }

  /** STUN discovery now; undefined without STUN servers. Never throws. */
  async discover(): Promise<NatSummary | undefined> {
    const stun = this.config.stun;
    if (stun === undefined) return undefined;
    this.lastDiscovery = Date.now();
    let d: NatDiscovery;
    try {
      d = await (this.opts.discover ?? defaultDiscover(this.log))(stun);
    } catch (err) {
      this.log.warn({ err }, 'NAT discovery failed');
      return this.nat;
    }
    const summary = summarize(d);
    this.log.info({ nat: summary, errors: d.details.errors, notes: d.details.notes }, `NAT discovery: ${summary.classic ?? 'unknown'}`);
    return summary;
  }

  /** One registration, retried with backoff for up to retry.giveUpMs (for `--once`). */
  async registerOnce(): Promise<LeasesBody> {
    this.nat = await this.discover();
    const deadline = Date.now() + this.config.retry.giveUpMs;
    let backoff = this.config.retry.initialMs;
    for (;;) {
      try {
        return this.registered(await this.client.register(this.config.services, this.nat));
      } catch (err) {
        this.throwIfPermanent(err);
        if (Date.now() + backoff > deadline || this.stopping) throw err;
        this.log.warn({ err: brief(err), retryInMs: backoff }, 'registration failed; retrying');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.config.retry.maxMs);
      }
    }
  }

  /**
   * Registers, then heartbeats until stop(); deregisters on the way out. Rejects with PermanentRefusal when the
   * gateway refuses for a reason waiting cannot fix.
   */
  async run(): Promise<void> {
    this.nat = await this.discover();
    let registered = false;
    let backoff = this.config.retry.initialMs;
    while (!this.stopping) {
      let wait: number;
      try {
        if (!registered) this.registered(await this.client.register(this.config.services, this.nat));
        else this.heartbeatAnswered(await this.client.heartbeat());
        registered = true;
        backoff = this.config.retry.initialMs;
        wait = this.config.heartbeatMs ?? this.current!.heartbeatMs;
      } catch (err) {
        this.throwIfPermanent(err);
        if (err instanceof ApiRefusedError && REREGISTER.includes(err.code as WireErrorCode)) {
          this.log.info({ code: err.code }, 'the gateway lost our registration; registering again');
          registered = false;
          continue;
        }
        // After an outage the gateway may have restarted with another config: register, not heartbeat.
        registered = false;
        this.log.warn({ err: brief(err), retryInMs: backoff }, 'gateway not reachable or refused for now; retrying');
        wait = backoff;
        backoff = Math.min(backoff * 2, this.config.retry.maxMs);
      }
      if (this.config.stun && Date.now() - this.lastDiscovery >= this.config.stun.intervalMs && !this.stopping) {
        const nat = await this.discover();
        if (JSON.stringify(nat) !== JSON.stringify(this.nat)) {
          this.nat = nat;
          registered = false; // tell the gateway what changed
          continue;
        }
      }
      await this.sleep(wait);
    }
    await this.deregister();
  }

  /** Ends run() (or a registerOnce() backoff) soon: no new request is started after this. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Releases the worker's leases at the gateway; failures are logged (the gateway expires them anyway). */
  async deregister(): Promise<void> {
    if (!this.everRegistered) return;
    try {
      await this.client.deregister();
      this.log.info('deregistered');
    } catch (err) {
      this.log.warn({ err: brief(err) }, 'deregistration failed; the gateway will expire the leases');
    }
  }

  private registered(body: LeasesBody): LeasesBody {
    this.everRegistered = true;
    const changed = JSON.stringify(body.leases) !== JSON.stringify(this.current?.leases);
    this.current = body;
    const endpoints = body.leases.map((l) => l.endpoint);
    this.log[changed ? 'info' : 'debug']({ address: body.address, endpoints }, `registered: ${endpoints.join(', ') || 'no services'}`);
    return body;
  }

  private heartbeatAnswered(body: LeasesBody): void {
    if (JSON.stringify(body.leases) !== JSON.stringify(this.current?.leases)) this.registered(body);
    else this.current = body;
  }

  private throwIfPermanent(err: unknown): void {
    if (err instanceof ApiRefusedError && PERMANENT.includes(err.code)) throw new PermanentRefusal(err);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** What the gateway is told about our NAT (shown in `realmgw workers`, never acted on). */
export function summarize(d: NatDiscovery): NatSummary {
  return {
    classic: d.classic,
    mapping: d.mapping,
    filtering: d.filtering,
    method: d.method,
    ...(d.mappedAddress !== undefined ? { mappedAddress: d.mappedAddress } : {}),
    ...(d.mappedPort !== undefined ? { mappedPort: d.mappedPort } : {}),
  };
}

function defaultDiscover(log: Logger) {
  return (stun: NonNullable<WorkerAgentConfig['stun']>) =>
    discoverNat({ servers: stun.servers, timeoutMs: stun.timeoutMs, retries: stun.retries, logger: log, software: 'realmgw-worker' });
}

/** An error for a log line: its message only (no request objects, which could carry headers). */
function brief(err: unknown): { message: string; code?: string } {
  const e = err as { message?: string; code?: unknown };
  return { message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}
