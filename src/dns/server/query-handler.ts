import type { Logger } from 'pino';
import type { CircularPool, Reservation } from '../../pool/circular-pool.js';
import type { View } from '../authority/views.js';
import { allocationAnswer, decide, emptyAnswer, type Decision } from '../answer/decide.js';
import { ResponseCache, type CacheEntry } from '../answer/response-cache.js';
import type { Forwarder } from '../forward/forwarder.js';
import type { AllocationGate, Ticket } from '../admission/allocation-gate.js';
import type { AliasGrant } from '../proof/alias-challenges.js';
import type { DnsMetrics } from '../metrics.js';
import { buildTemplate, headerOnlyError, instantiate, minimalTruncated, udpLimit, type PerQueryOptions } from '../wire/encode-response.js';
import { ownerName, type ResponseSpec } from '../wire/response-spec.js';
import { rrlResponseKey, type Rrl } from './rrl.js';
import { ThrottledLog } from '../../log/throttle.js';
import { parseQuery, RCODE, type Query } from '../wire/parse-query.js';

export type Transport = 'udp' | 'tcp';

export interface QueryHandlerDeps {
  view: View;
  pool: CircularPool;
  forwarder?: Forwarder;
  metrics: DnsMetrics;
  log: Logger;
  /** Milliseconds; injected so tests can drive reservation lifetimes. */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  udpPayloadSize: number;
  tcpRetryMs: number;
  /**
   * Called for every reservation made. A returned promise (e.g. the kernel learning the reservation in nftset
   * mode) delays the answer until it settles, so a client can never race its first packet past the kernel;
   * if it rejects, the reservation is cancelled and the query treated like an exhausted pool.
   */
  onReserve?: (r: Reservation, client: string) => void | Promise<void>;
  /**
   * Who may reserve (WAN): proof of address, reputation, budget, client-subnet binding. Absent: everyone who
   * asks (the LAN view, or a gateway with the defences off).
   */
  gate?: AllocationGate;
  /** Response-rate limiting of UDP answers that allocate nothing (WAN): an answer is not a reflector. */
  rrl?: Rrl;
}

const REFUSAL_LOG_INTERVAL_MS = 10_000;

type Allocation = Extract<Decision, { kind: 'allocate' }>;
interface Reserved {
  id: number;
  address: number;
  ready?: Promise<void>;
}

/**
 * The pipeline for one view: parse, look up the cached answer or decide one, then answer, allocate or forward.
 * Returns the bytes to send, undefined to stay silent, or a promise of either when the answer has to wait
 * (forwarding, the TCP retry after an exhausted pool). The synchronous return keeps the UDP hot path free of
 * promise allocations. This is the one place that turns a bad packet into a wire-level error reply.
 */
export class QueryHandler {
  private readonly cache = new ResponseCache();
  /**
   * Why requests were refused (unproven, tier, budget, rate-limited) and kernel failures: outsiders trigger
   * these per packet, so each kind is one line per interval with the count it stands for.
   */
  private readonly refusals: ThrottledLog;
  private readonly failures: ThrottledLog;
  private draining = false;
  constructor(private readonly deps: QueryHandlerDeps) {
    this.refusals = new ThrottledLog({ error: (o, m) => deps.log.info(o, m) }, REFUSAL_LOG_INTERVAL_MS, deps.now);
    this.failures = new ThrottledLog(deps.log, REFUSAL_LOG_INTERVAL_MS, deps.now);
  }

  handle(packet: Buffer, transport: Transport, client: string): Buffer | undefined | Promise<Buffer | undefined> {
    const { metrics } = this.deps;
    if (transport === 'udp') metrics.queriesUdp++;
    else metrics.queriesTcp++;

    const parsed = parseQuery(packet);
    if (parsed.kind === 'drop') {
      metrics.dropped++;
      return undefined;
    }
    if (parsed.kind === 'error') {
      metrics.malformed++;
      if (!parsed.query) {
        metrics.countRcode(parsed.rcode);
        return headerOnlyError(parsed.id, parsed.flags, parsed.rcode);
      }
      const spec: ResponseSpec = { rcode: parsed.rcode, authoritative: false, answers: [], authorities: [], additionals: [] };
      return this.send(buildTemplate(parsed.query, spec, this.deps), parsed.query, transport, client);
    }
    const query = parsed.query;
    const aliases = this.deps.gate?.aliases;
    if (aliases?.isAlias(query.question.name)) return this.aliasFollowUp(query, packet, transport, client);
    const entry = this.entryFor(query);
    return this.carryOut(entry, query, packet, transport, client);
  }

  /**
   * The follow-up to a CNAME challenge: allocate for the service the alias stands for, answering under the
   * alias's name. An unknown, used or expired alias gets what the zone says about that name (NXDOMAIN).
   * Never cached: every alias is asked for once.
   */
  private aliasFollowUp(query: Query, packet: Buffer, transport: Transport, client: string) {
    const gate = this.deps.gate!;
    const { question } = query;
    const grant = gate.aliases!.redeem(question.name, this.deps.now());
    const decision = grant && decide(this.deps.view, grant.qname, grant.qtype, question.class);
    if (!grant || decision?.kind !== 'allocate') {
      if (!grant) gate.stats.aliasesUnknown++;
      const d = decide(this.deps.view, question.name, question.type, question.class);
      const spec = d.kind === 'answer' ? d.spec : emptyAnswer(this.deps.view);
      return this.sendLimited(buildTemplate(query, spec, this.deps), query, transport, client);
    }
    // Not decision.spec: that answers the service's own name, and an SRV's glue is owned by that name when it
    // was the question. Here the question is the alias.
    const spec = allocationAnswer(this.deps.view, question.name, decision.service, decision.shape);
    return this.allocate({ decision, template: buildTemplate(query, spec, this.deps) }, query, packet, transport, client, grant);
  }

  /** Drops every cached answer; call after zones or policies change. */
  invalidate(): void {
    this.cache.clear();
  }

  /** A reload: answers come from `view` from the next query on (no cached answer of the old one survives). */
  replaceView(view: View): void {
    this.deps.view = view;
    this.cache.clear();
  }

  /**
   * Lame duck before a stop: no new reservations. An allocating query is answered REFUSED, which a resolver
   * takes as "ask another of the zone's servers" (RFC 1035 §7.2 lame handling); other names are still
   * answered, and reservations already made are still confirmed by the data plane.
   */
  drain(): void {
    this.draining = true;
  }

  private entryFor(query: Query): CacheEntry {
    const { question } = query;
    const key = ResponseCache.key(question.name, question.type, question.class, !!query.edns, !!query.edns?.dnssecOk);
    const hit = this.cache.get(key);
    if (hit) {
      this.deps.metrics.cacheHits++;
      return hit;
    }
    const decision = decide(this.deps.view, question.name, question.type, question.class);
    const spec = decision.kind === 'forward' ? emptyAnswer(this.deps.view) : decision.spec; // forward: the template is unused
    const entry = { decision, template: buildTemplate(query, spec, this.deps) };
    this.cache.set(key, entry);
    return entry;
  }

  private carryOut(entry: CacheEntry, query: Query, packet: Buffer, transport: Transport, client: string) {
    const { decision, template } = entry;
    switch (decision.kind) {
      case 'answer':
        return this.sendLimited(template, query, transport, client);
      case 'forward':
        return this.forward(query, packet, transport, client);
      case 'allocate':
        return this.allocate({ decision, template }, query, packet, transport, client);
    }
  }

  private allocate(entry: { decision: Allocation; template: CacheEntry['template'] }, query: Query, packet: Buffer, transport: Transport, client: string, alias?: AliasGrant) {
    const { decision, template } = entry;
    if (this.draining) {
      this.deps.metrics.drainingRefused++;
      const spec: ResponseSpec = { rcode: RCODE.REFUSED, authoritative: false, answers: [], authorities: [], additionals: [] };
      return this.send(buildTemplate(query, spec, this.deps), query, transport, client);
    }
    const limit = transport === 'udp' ? udpLimit(query, this.deps.udpPayloadSize) : Infinity;
    // A truncated answer carries no address: don't spend a reservation on it, the client comes back over TCP.
    if (template.full.length > limit) return this.send(template, query, transport, client);
    let ticket: Ticket | undefined;
    const gate = this.deps.gate;
    if (gate) {
      const s = decision.service;
      const verdict = gate.check({
        query,
        packet,
        transport,
        client,
        qname: alias?.qname ?? query.question.name,
        qtype: alias?.qtype ?? query.question.type,
        key: { protocol: s.protocol, port: s.port },
        alias,
      });
      if (verdict.kind === 'challenge') {
        this.deps.metrics.challenged++;
        this.refusals.error('unproven', { client, service: s.fqdn }, 'no reservation: the requester has not proven its address yet (challenged)');
        return verdict.reply;
      }
      if (verdict.kind === 'refuse') {
        this.refusals.error(verdict.reason, { client, service: s.fqdn }, `no reservation: refused by ${verdict.reason === 'budget' ? 'the requester budget' : 'the reputation tier at this pool load'}`);
        // Policy, not scarcity: waiting would not change the answer, so TCP gets its empty answer at once.
        this.deps.metrics.policyRefused++;
        if (transport === 'udp') return undefined;
        return this.send(buildTemplate(query, emptyAnswer(this.deps.view), this.deps), query, 'tcp', client);
      }
      ticket = verdict.ticket;
    }
    const reserved = this.reserve(decision, client, ticket);
    if (reserved?.ready) return this.afterReady(reserved, decision, template, query, packet, transport, client, ticket);
    if (reserved) return this.send(template, query, transport, client, reserved.address);
    return this.refuseAllocation(decision, template, query, packet, transport, client, ticket);
  }

  private refuseAllocation(d: Allocation, template: CacheEntry['template'], query: Query, packet: Buffer, transport: Transport, client: string, ticket?: Ticket) {
    if (transport === 'udp') {
      this.deps.metrics.exhaustedUdpDropped++;
      return undefined;
    }
    return this.retryOverTcp(d, template, query, packet, client, ticket);
  }

  private async afterReady(reserved: Reserved, d: Allocation, template: CacheEntry['template'], query: Query, packet: Buffer, transport: Transport, client: string, ticket?: Ticket) {
    try {
      await reserved.ready;
      return this.send(template, query, transport, client, reserved.address);
    } catch (err) {
      this.deps.metrics.kernelFailed++;
      this.failures.error('kernel', { err, service: d.service.fqdn }, 'the data plane did not take the reservation; refusing the query');
      this.deps.pool.cancel(reserved.id, this.deps.now());
      return this.refuseAllocation(d, template, query, packet, transport, client, ticket);
    }
  }

  private reserve(d: Allocation, client: string, ticket?: Ticket): Reserved | undefined {
    const s = d.service;
    const result = this.deps.pool.reserve(
      {
        key: { protocol: s.protocol, port: s.port },
        hostId: s.hostId,
        target: s.target,
        service: s.fqdn,
        lifetimeMs: s.lifetimeMs,
        hostMax: s.hostMax,
        loosePacket: s.loosePacket,
        source: ticket?.source,
        owner: ticket?.party,
      },
      this.deps.now(),
    );
    if (!result.ok) return undefined;
    this.deps.metrics.allocations++;
    if (ticket) this.deps.gate!.reserved(result.reservation, ticket);
    const ready = this.deps.onReserve?.(result.reservation, client);
    return { id: result.reservation.id, address: result.reservation.address, ready: ready ?? undefined };
  }

  private async retryOverTcp(d: Allocation, template: CacheEntry['template'], query: Query, packet: Buffer, client: string, ticket?: Ticket) {
    await this.deps.sleep(this.deps.tcpRetryMs);
    const reserved = this.reserve(d, client, ticket);
    if (reserved) {
      try {
        await reserved.ready;
        this.deps.metrics.tcpRetrySucceeded++;
        return this.send(template, query, 'tcp', client, reserved.address);
      } catch (err) {
        this.deps.metrics.kernelFailed++;
        this.failures.error('kernel', { err, service: d.service.fqdn }, 'the data plane did not take the reservation; refusing the query');
        this.deps.pool.cancel(reserved.id, this.deps.now());
      }
    }
    this.deps.metrics.exhaustedTcpEmpty++;
    return this.send(buildTemplate(query, emptyAnswer(this.deps.view), this.deps), query, 'tcp', client);
  }

  private async forward(query: Query, packet: Buffer, transport: Transport, client: string): Promise<Buffer | undefined> {
    const reply = await this.deps.forwarder?.forward(packet, transport === 'tcp');
    if (reply) {
      this.deps.metrics.forwarded++;
      this.deps.metrics.countRcode(reply[3] & 0xf);
      return reply;
    }
    this.deps.metrics.forwardFailed++;
    const spec: ResponseSpec = { rcode: RCODE.SERVFAIL, authoritative: false, recursionAvailable: true, answers: [], authorities: [], additionals: [] };
    return this.send(buildTemplate(query, spec, this.deps), query, transport, client);
  }

  /**
   * An answer that allocates nothing, through response-rate limiting when it goes out over UDP: dropped, or
   * every `slip`-th one sent as a bare TC=1 (a real client behind the limited prefix comes back over TCP).
   */
  private sendLimited(template: CacheEntry['template'], query: Query, transport: Transport, client: string): Buffer | undefined {
    const rrl = this.deps.rrl;
    if (rrl && transport === 'udp') {
      const spec = template.spec;
      const kind = spec.rcode === RCODE.NXDOMAIN ? 'nxdomain' : spec.rcode !== RCODE.NOERROR ? 'error' : spec.answers.length === 0 ? 'nodata' : 'answer';
      const { name, type } = query.question;
      const zone = spec.authorities[0] && ownerName(spec.authorities[0], name);
      const verdict = rrl.check(client, rrlResponseKey(kind, spec.rcode, name, type, zone), this.deps.now());
      if (verdict !== 'send') this.refusals.error('rate-limited', { client }, 'answers to this client prefix rate-limited (RRL: dropped, every slip-th truncated)');
      if (verdict === 'drop') {
        this.deps.metrics.rrlDropped++;
        return undefined;
      }
      if (verdict === 'slip') {
        this.deps.metrics.rrlSlipped++;
        return minimalTruncated(query, { udpPayloadSize: this.deps.udpPayloadSize, authoritative: spec.authoritative }, this.replyOptions(query, client));
      }
    }
    return this.send(template, query, transport, client);
  }

  private send(template: CacheEntry['template'], query: Query, transport: Transport, client: string, address?: number): Buffer {
    this.deps.metrics.countRcode(template.spec.rcode);
    const limit = transport === 'udp' ? udpLimit(query, this.deps.udpPayloadSize) : Infinity;
    return instantiate(template, query, limit, address, this.replyOptions(query, client));
  }

  /**
   * Per-client EDNS options of a WAN answer: a fresh server cookie for a client that sent a cookie, and the
   * client subnet echoed (RFC 7871 §7.2.1) with scope 0. An allocation is tailored to the subnet, but it has
   * TTL 0, so no cache may keep it whatever the scope says; and Unbound 1.17's subnet cache does keep a TTL-0
   * answer of scope /24 for the rest of the second and hands the same (single-use) address to the next client
   * of that subnet (measured: 20 of 60 flows behind one Unbound refused).
   */
  private replyOptions(query: Query, client: string): PerQueryOptions | undefined {
    const gate = this.deps.gate;
    const edns = query.edns;
    if (!gate || !edns || (!edns.cookie && !edns.ecs)) return undefined;
    const ecs = edns.ecs && { family: edns.ecs.family, sourcePrefix: edns.ecs.sourcePrefix, scopePrefix: 0, address: edns.ecs.address };
    return { cookie: gate.cookieFor(query, client), ecs };
  }
}
