import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AdminServer } from './admin/admin-server.js';
import type { CompiledGateway, CompiledPart, CompiledPbra, CompiledWorkers } from './compile/compiled-gateway.js';
import { CircularPool, type Reservation } from './pool/circular-pool.js';
import type { View } from './dns/authority/views.js';
import { Forwarder } from './dns/forward/forwarder.js';
import { DnsMetrics } from './dns/metrics.js';
import { QueryHandler } from './dns/server/query-handler.js';
import { allowFromNetworks } from './dns/server/allow-clients.js';
import { TcpListener, type TcpOptions } from './dns/server/tcp-listener.js';
import { UdpListener } from './dns/server/udp-listener.js';
import { formatIpv4 } from './util/ipv4.js';
import { Dataplane } from './dataplane/dataplane.js';
import { NO_DYNAMIC_NAMES, WorkerNameTable } from './dns/authority/worker-names.js';
import type { AllocationGate } from './dns/admission/allocation-gate.js';
import { buildGate } from './dns/admission/build-gate.js';
import { Rrl } from './dns/server/rrl.js';
import { StunServer } from './stun/server.js';
import { WorkersApiServer } from './workers/api/server.js';
import { createMappingBackend } from './workers/backends/create.js';
import { WorkersService } from './workers/service.js';
import { ProxyRelay, type RelayStats } from './proxy/index.js';
import { proxyResolver } from './proxy/targets.js';
import { forwardStats, parseNftCounters, type ForwardStats } from './forwards/counters.js';
import { CommandRunner } from './dataplane/command.js';
import type { CompiledProxy } from './compile/compiled-gateway.js';
import { Readiness } from './ops/readiness.js';
import { emptyOperatorCounters } from './ops/operator-counters.js';
import { MetricsEndpoint } from './metrics/metrics-endpoint.js';
import { MetricsListener } from './metrics/listener.js';
import type { MetricSources } from './metrics/sources.js';
import { realmgwVersion } from './util/version.js';
import { Reloader, type ReloadResult } from './reload/reloader.js';
import type { UpstreamResolver } from './proxy/connection.js';
import { DriftMonitor, type DriftPart } from './ops/drift-monitor.js';

interface Stoppable {
  stop(): Promise<void>;
}

/** Millisecond clock that never jumps with wall-clock changes: reservation lifetimes must not. */
export const monotonicNow = (): number => performance.now();

/**
 * Composition root: builds the pool on the compiled gateway (compile.ts), then starts the data plane, workers,
 * DNS listeners and the admin API in order. Whatever started is stopped in reverse order, also when a later
 * start step fails, so a half-started gateway never lingers.
 */
export class Gateway {
  readonly pool: CircularPool;
  readonly metrics = { wan: new DnsMetrics(), lan: new DnsMetrics() };
  /** Replaced by a reload (the workers' names carried over). */
  views: { wan: View; lan: View };
  /** /readyz and systemd's READY=1: every condition true (ops/readiness.ts). */
  readonly readiness = new Readiness(monotonicNow);
  /** Reloads and drift repairs, for /metrics and /stats. */
  readonly ops = emptyOperatorCounters();
  /** /metrics, /healthz, /readyz: on the admin socket and the opt-in metrics listener (metrics/). */
  readonly metricsEndpoint: MetricsEndpoint;
  private forwardsRead: ForwardStats[] = [];
  private readonly started: Stoppable[] = [];
  private expiryTimer?: NodeJS.Timeout;
  private dataplane?: Dataplane;
  private drift?: DriftMonitor;
  private workers?: WorkersService;
  private gate?: AllocationGate;
  private relay?: ProxyRelay;
  private readonly handlers: QueryHandler[] = [];
  private readonly debug: boolean;
  private current: CompiledGateway;
  private readonly reloader: Reloader;
  /** The relay asks this for a name's host; a reload replaces it. */
  private proxyResolve: UpstreamResolver = () => undefined;
  /** Bound addresses, in listener order, for logs and tests that bind port 0. */
  readonly endpoints: { view: string; transport: string; address: string; port: number }[] = [];

  constructor(
    compiled: CompiledGateway,
    private readonly log: Logger,
  ) {
    this.current = compiled;
    this.reloader = new Reloader(this, this.ops, log.child({ component: 'reload' }));
    const { config } = compiled;
    this.debug = log.isLevelEnabled('debug');
    this.pool = new CircularPool({
      addresses: config.poolAddresses,
      lifetimeMs: config.pool.lifetimeMs,
      onRelease: (r, why) => {
        // Guarded: building the log fields costs more than the release itself on the allocation hot path.
        if (this.debug) this.log.debug({ address: formatIpv4(r.address), service: r.service, why }, 'reservation released');
        // PBRA: a consumed reservation counts for its requester, one that expired unused against
        this.gate?.released(r, why);
      },
    });
    this.views = compiled.views;
    this.metricsEndpoint = new MetricsEndpoint(this.metricSources());
  }

  /** Told when a reload begins and ends, whatever asked for it (run: systemd's RELOADING=1, then READY=1). */
  reloadObserver?: { begin(): void; end(): void };

  /** What the gateway runs: the compilation it started with, or the last reload's. */
  get compiled(): CompiledGateway {
    return this.current;
  }

  /**
   * Reads the files again and applies what changed (reload/): SIGHUP, `realmgw reload`, POST /reload. Invalid
   * files or a change that needs a restart change nothing; one reload at a time.
   */
  async reload(): Promise<ReloadResult> {
    this.reloadObserver?.begin();
    try {
      return await this.reloader.reload();
    } finally {
      this.reloadObserver?.end();
    }
  }

  /**
   * Called by the Reloader with a checked plan. The kernel first (an address must be confirmable before DNS
   * hands it out); if it fails nothing else switches. Then DNS answers switch at once (new views, caches
   * dropped), and the relay's names.
   */
  async applyReload(next: CompiledGateway, changed: CompiledPart[]): Promise<string[]> {
    let kernel: string[] = [];
    if (changed.includes('kernel') && this.dataplane && next.kernel) kernel = await this.dataplane.update(next.kernel);
    const dynamic = this.views.wan.dynamic;
    next.views.wan.dynamic = dynamic;
    next.views.lan.dynamic = dynamic;
    this.current = next;
    this.views = next.views;
    const [wan, lan] = this.handlers;
    wan?.replaceView(next.views.wan);
    lan?.replaceView(next.views.lan);
    if (next.proxy) this.proxyResolve = proxyResolver(next.proxy.names, next.proxy.section.proxyProtocol);
    return kernel;
  }

  /**
   * The lame duck before stop(): readiness false ("draining"), no new reservations (handlers answer
   * allocating queries REFUSED), while the data plane still confirms what was handed out. Resolves after
   * `ms`, or at once when `cut` resolves (a second SIGTERM).
   */
  async drain(ms: number, cut?: Promise<unknown>): Promise<void> {
    this.readiness.set('started', false, 'draining');
    for (const h of this.handlers) h.drain();
    this.log.info({ lameDuckMs: ms }, 'draining: no new reservations');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), ...(cut ? [cut] : [])]);
    clearTimeout(timer);
  }

  /** shutdown.lameDuckMs, by default the pool lifetime: every address handed out has been used or expired. */
  get lameDuckMs(): number {
    const { config } = this.current;
    return config.shutdown?.lameDuckMs ?? config.pool.lifetimeMs;
  }

  async start(): Promise<void> {
    this.readiness.require('started', 'starting');
    if (this.compiled.kernel) this.readiness.require('kernel', 'not installed yet');
    this.readiness.require('dns', 'not listening yet');
    try {
      await this.startAll();
      this.readiness.set('started', true, 'started');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startAll(): Promise<void> {
    const { config, kernel, workers, pbra } = this.compiled;
    const dns = config.dns;
    // Probes first: /readyz answers 503 while the rest starts.
    if (config.metrics) {
      const { listen, maxConnections } = config.metrics;
      const listener = new MetricsListener({ ...listen, maxConnections, routes: this.metricsEndpoint.routes(), log: this.log.child({ component: 'metrics' }) });
      await listener.start();
      this.started.push(listener);
    }
    // The kernel first: an address must never be handed out before packets to it can be confirmed.
    if (kernel) {
      const dataplane = new Dataplane(kernel, this.pool, monotonicNow, this.log.child({ component: 'dataplane' }));
      await dataplane.start();
      this.started.push(dataplane);
      this.dataplane = dataplane;
      this.readiness.set('kernel', true, 'installed');
    }
    // Workers next: their names must be in DNS (and their ports mapped) before the first query is answered.
    if (workers) await this.startWorkers(workers);
    if (this.dataplane) this.startDriftMonitor(this.dataplane, config.dataplane?.verifyIntervalMs ?? 0);
    // The relay before DNS: a proxy_required name answers with the service address, which must then carry it.
    if (this.compiled.proxy) await this.startProxy(this.compiled.proxy);
    const reserve = this.dataplane?.reserve;
    const onReserve = this.debug ? logReservations(reserve, this.log) : reserve;
    const common = {
      pool: this.pool,
      now: monotonicNow,
      sleep: (ms: number) => sleep(ms),
      udpPayloadSize: dns.udpPayloadSize,
      tcpRetryMs: config.pool.tcpRetryMs,
      onReserve,
    };
    const gate = pbra && this.startGate(pbra);
    const rrl = dns.wan.rrl.enabled ? new Rrl(dns.wan.rrl) : undefined;
    const wanHandler = new QueryHandler({ ...common, view: this.views.wan, metrics: this.metrics.wan, log: this.log.child({ view: 'wan' }), gate, rrl });
    this.handlers.push(wanHandler);
    await this.listen('wan', wanHandler, dns.wan.listen, this.metrics.wan);
    if (dns.lan) {
      const forwarder = new Forwarder({
        upstreams: dns.lan.forwarders,
        timeoutMs: dns.lan.forwardTimeoutMs,
        attempts: dns.lan.forwardAttempts,
        onFailedAttempt: () => this.metrics.lan.forwardAttemptsFailed++,
        maxInFlight: dns.lan.maxInFlight,
        onBusy: () => this.metrics.lan.forwardRefusedBusy++,
        log: this.log.child({ view: 'lan', component: 'forwarder' }),
      });
      const lanHandler = new QueryHandler({ ...common, view: this.views.lan, forwarder, metrics: this.metrics.lan, log: this.log.child({ view: 'lan' }) });
      this.handlers.push(lanHandler);
      await this.listen('lan', lanHandler, dns.lan.listen, this.metrics.lan);
    }
    this.readiness.set('dns', true, 'listening');
    this.expiryTimer = setInterval(() => this.pool.expire(monotonicNow()), 250);
    this.expiryTimer.unref();
    if (config.admin) {
      const admin = new AdminServer(config.admin.socket, this.adminRoutes(), this.log.child({ component: 'admin' }), { '/reload': () => this.reload() });
      await admin.start();
      this.started.push(admin);
    }
  }

  /** Verifies the kernel state periodically and repairs drift (ops/drift-monitor.ts); stopped before the data plane. */
  private startDriftMonitor(dataplane: Dataplane, intervalMs: number): void {
    const parts: DriftPart[] = [{ name: 'dataplane', verify: () => dataplane.verify(), repair: (d) => dataplane.repair(d) }];
    const workers = this.workers;
    if (workers) parts.push({ name: 'workers', verify: () => workers.verify(), repair: () => workers.remap() });
    const monitor = new DriftMonitor({
      parts,
      serialize: (fn) => dataplane.serialize(fn),
      counters: this.ops.drift,
      readiness: this.readiness,
      log: this.log.child({ component: 'drift' }),
      intervalMs,
    });
    monitor.start();
    this.started.push(monitor);
    this.drift = monitor;
  }

  /** The relay for proxy_required names: HTTP by Host and TLS by SNI on the service address, only to their hosts. */
  private async startProxy(proxy: CompiledProxy): Promise<void> {
    const { section, serviceAddress, names } = proxy;
    const listeners = [
      ...(section.http ? [{ address: serviceAddress, port: section.http, kind: 'http' as const }] : []),
      ...(section.tls ? [{ address: serviceAddress, port: section.tls, kind: 'tls' as const }] : []),
    ];
    this.proxyResolve = proxyResolver(names, section.proxyProtocol);
    const relay = new ProxyRelay({ listeners, resolve: (name, via) => this.proxyResolve(name, via), logger: this.log, limits: section.limits });
    await relay.start();
    this.started.push(relay);
    this.relay = relay;
  }

  /** The static forwards with their kernel counters (read now: `nft list` holds nf_tables' lock while it dumps). */
  private async forwardsNow(): Promise<ForwardStats[]> {
    const forwards = this.compiled.kernel?.model.forwards ?? [];
    if (!this.dataplane || forwards.length === 0) return forwardStats(forwards, new Map());
    const r = await new CommandRunner().run('nft', ['-j', 'list', 'counters', 'table', 'ip', this.compiled.kernel!.model.table]);
    return forwardStats(forwards, r.code === 0 ? parseNftCounters(r.stdout) : new Map());
  }

  /** The WAN allocation gate (proofs of address, PBRA), told how every reservation ends. */
  private startGate(pbra: CompiledPbra): AllocationGate {
    const gate = buildGate(pbra.settings, {
      pool: this.pool,
      now: monotonicNow,
      udpPayloadSize: this.compiled.config.dns.udpPayloadSize,
      defaultAliasZone: pbra.aliasZone,
      cookieSecret: pbra.cookieSecret,
    });
    this.gate = gate;
    return gate;
  }

  /**
   * STUN server, kernel mappings + registry (WorkersService), then the registration API on the private network;
   * every registry change republishes the workers' DNS names.
   */
  private async startWorkers(workers: CompiledWorkers): Promise<void> {
    const { config } = this.compiled;
    const { section } = workers;
    const log = this.log; // each part names itself (component: workers, workers-api, workers-nftables ...)
    if (config.stun) {
      const stun = new StunServer({
        address: config.stun.listen.address,
        port: config.stun.listen.port,
        alternateAddress: config.stun.alternate?.address,
        alternatePort: config.stun.alternate?.port,
        logger: this.log.child({ component: 'stun' }),
      });
      await stun.start();
      this.started.push(stun);
    }
    const service = new WorkersService({
      config: workers.registry,
      backend: createMappingBackend(section, log),
      stateFile: section.stateFile,
      publicAddress: section.publicAddress,
      heartbeatMs: section.heartbeatMs,
      log,
    });
    const names = new WorkerNameTable(workers.zone, section.publicAddress);
    this.views.wan.dynamic = names;
    this.views.lan.dynamic = names;
    service.onWorkersChange((changed) => {
      for (const [name, record] of changed) {
        names.set(name, record?.leases.map((l) => ({ protocol: l.protocol, port: l.target.port, publicPort: l.publicPort })));
      }
      // Cached answers may say NXDOMAIN for a worker that just registered, or name a port it just lost.
      for (const h of this.handlers) h.invalidate();
    });
    await service.start();
    this.started.push(service);
    this.workers = service;
    const api = new WorkersApiServer({ address: section.api.listen.address, port: section.api.listen.port, service, log });
    await api.start();
    this.started.push(api);
  }

  private async listen(view: 'wan' | 'lan', handler: QueryHandler, listeners: { address: string; port: number }[], metrics: DnsMetrics) {
    const { dns, dataplane } = this.compiled.config;
    const log = this.log.child({ view });
    // The LAN view recurses through our forwarder: it answers the realm's hosts only, never the world.
    const lanNetworks = dns.lan?.allowFrom ?? (dataplane ? [dataplane.lan.network] : undefined);
    const allowClient = view === 'lan' && lanNetworks ? allowFromNetworks(lanNetworks) : undefined;
    const tcpOptions: TcpOptions = {
      idleTimeoutMs: dns.tcpIdleTimeoutMs,
      maxConnections: dns.tcpMaxConnections,
      maxConnectionsPerSource: dns.tcpMaxConnectionsPerSource,
      maxLifetimeMs: dns.tcpMaxLifetimeMs,
      maxQueuedBytes: dns.tcpMaxQueuedBytes,
      maxInFlight: dns.tcpMaxInFlight,
      allowClient,
    };
    for (const l of listeners) {
      const udp = new UdpListener(handler, l.address, l.port, log, { allowClient, metrics });
      const bound = await udp.start();
      this.started.push(udp);
      this.endpoints.push({ view, transport: 'udp', ...bound });
      // Bind TCP to the port UDP got, so port 0 (tests) yields one port for both transports.
      const tcp = new TcpListener(handler, l.address, bound.port, tcpOptions, metrics, log);
      this.endpoints.push({ view, transport: 'tcp', ...(await tcp.start()) });
      this.started.push(tcp);
      log.info({ address: bound.address, port: bound.port }, 'dns listening (udp, tcp)');
    }
  }

  private adminRoutes() {
    return {
      '/stats': async () => {
        await this.dataplane?.refreshKernelCounters().catch(() => undefined);
        return {
          dns: { wan: this.metrics.wan.snapshot(), lan: this.metrics.lan.snapshot() },
          pool: { ...this.pool.stats, size: this.pool.size },
          defences: this.gate ? this.gate.stats : null,
          dataplane: this.dataplane ? { confirm: this.dataplane.model.confirm, ...this.dataplane.stats, confirmLagMs: this.dataplane.confirmLag() ?? null } : null,
          proxy: this.relay ? (this.relay.stats as RelayStats) : null,
          forwards: await this.forwardsNow(),
          ops: this.ops,
        };
      },
      // a GET that acts: the admin API is GET-only, and a check is harmless to repeat
      '/verify': () => this.drift?.check() ?? { ok: true, drift: [], repair: 'none', note: 'no kernel state to verify' },
      '/forwards': () => this.forwardsNow(),
      ...this.metricsEndpoint.routes(),
      '/reservations': () => {
        const now = monotonicNow();
        return this.pool.live().map((r) => ({
          id: r.id,
          address: formatIpv4(r.address),
          protocol: r.key.protocol,
          port: r.key.port,
          service: r.service,
          host: r.hostId,
          target: formatIpv4(r.target),
          boundTo: r.source ? `${formatIpv4(r.source.network)}/${r.source.prefixLength}` : null,
          expiresInMs: Math.max(0, Math.round(r.expiresAt - now)),
        }));
      },
      '/endpoints': () => this.endpoints,
      '/reputation': () => this.gate?.view() ?? null,
      '/workers': () => this.workers?.view() ?? null,
    };
  }

  /** What /metrics reads, at scrape time only: whatever parts run now. */
  private metricSources(): MetricSources {
    return {
      version: realmgwVersion(),
      dns: () => (this.compiled.config.dns.lan ? { wan: this.metrics.wan, lan: this.metrics.lan } : { wan: this.metrics.wan }),
      pool: () => ({ stats: this.pool.stats, size: this.pool.size, confirmationLag: this.pool.confirmationLag.snapshot() }),
      defences: () => this.gate?.stats,
      dataplane: () => this.dataplane?.stats,
      workers: () => this.workers?.view(),
      relay: () => this.relay?.stats,
      forwards: () => this.forwardsRead,
      ops: () => this.ops,
      readiness: () => ({ ready: this.readiness.ready(), conditions: this.readiness.view() }),
      refresh: async () => {
        await Promise.all([this.dataplane?.refreshKernelCounters(), this.workers?.refreshCounters()]);
        this.forwardsRead = await this.forwardsNow();
      },
    };
  }

  async stop(): Promise<void> {
    this.readiness.set('started', false, 'stopping');
    this.dataplane = undefined;
    this.drift = undefined;
    this.relay = undefined;
    this.workers = undefined;
    this.views.wan.dynamic = this.views.lan.dynamic = NO_DYNAMIC_NAMES;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
    while (this.started.length) {
      const s = this.started.pop()!;
      try {
        await s.stop();
      } catch (err) {
        this.log.error({ err }, 'stop step failed');
      }
    }
  }
}

/** The debug line of every reservation, in front of the data plane's hook (if its mode has one). */
function logReservations(reserve: ((r: Reservation) => Promise<void> | undefined) | undefined, log: Logger) {
  return (r: Reservation, client: string): Promise<void> | undefined => {
    log.debug({ address: formatIpv4(r.address), service: r.service, client, protocol: r.key.protocol, port: r.key.port }, 'reserved');
    return reserve?.(r);
  };
}
