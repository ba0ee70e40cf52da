import type { Record, ResponseSpec } from '../wire/encode-response.js';
import { RCODE } from '../wire/parse-query.js';
import type { ZoneData } from '../authority/zone-tree.js';
import type { ServiceEntry, View } from '../authority/views.js';
import type { DynamicNames } from '../authority/worker-names.js';

/**
 * What to do with one question, decided from the view's data alone: no sockets, no clock, no pool. The query
 * handler carries out the decision (allocating, forwarding, sending).
 */
export type Decision =
  /** A complete answer, the same for every query with this question: safe to cache. */
  | { kind: 'answer'; spec: ResponseSpec }
  /** A service name: reserve a pool address, then answer with `allocationSpec`. */
  | { kind: 'allocate'; service: ServiceEntry; shape: 'A' | 'SRV'; zone: ZoneData }
  /** LAN only: not ours, ask the upstream resolvers. */
  | { kind: 'forward' };

export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, IXFR: 251, AXFR: 252, ANY: 255 } as const;
const CLASS_IN = 1;
const MAX_CNAME_CHAIN = 8;

const TYPE_NAMES: { [t: number]: string } = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 257: 'CAA',
};

export function refused(): ResponseSpec {
  return { rcode: RCODE.REFUSED, authoritative: false, answers: [], authorities: [], additionals: [] };
}

/** RFC 2308: the SOA in a negative answer carries min(SOA TTL, SOA minimum) as its TTL. */
function negativeSoa(zone: ZoneData): Record {
  const min = (zone.soa.data as { minimum: number }).minimum;
  return { ...zone.soa, ttl: Math.min(zone.soa.ttl, min) };
}

function negative(zone: ZoneData, rcode: number, view: View): ResponseSpec {
  return { rcode, authoritative: true, recursionAvailable: view.forwards, answers: [], authorities: [negativeSoa(zone)], additionals: [] };
}

function positive(answers: Record[], additionals: Record[], view: View): ResponseSpec {
  return { rcode: RCODE.NOERROR, authoritative: true, recursionAvailable: view.forwards, answers, authorities: [], additionals };
}

/** RFC 8482: answer ANY with one synthesized HINFO instead of everything we hold. */
function anyAnswer(name: string, zone: ZoneData, view: View): ResponseSpec {
  return positive([{ name, type: 'HINFO', ttl: zone.soa.ttl, data: { cpu: 'RFC8482', os: '' } }], [], view);
}

/** Glue-style additional addresses for in-zone NS / MX / SRV targets. */
function additionalsFor(records: Record[], view: View): Record[] {
  const out: Record[] = [];
  for (const rr of records) {
    const target =
      rr.type === 'NS' || rr.type === 'CNAME' ? (rr.data as string) :
      rr.type === 'MX' ? (rr.data as { exchange: string }).exchange :
      rr.type === 'SRV' ? (rr.data as { target: string }).target : undefined;
    if (!target) continue;
    const found = view.tree.lookup(target.toLowerCase());
    if (found.kind === 'exists') out.push(...(found.node?.get('A') ?? []));
  }
  return out;
}

function serviceTxt(s: ServiceEntry, ttl: number, name: string): Record {
  const proto = s.protocol === 0 ? 'any' : ({ 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' } as { [p: number]: string })[s.protocol] ?? String(s.protocol);
  return {
    name,
    type: 'TXT',
    ttl,
    data: [`proxy_required=${s.proxyRequired}`, `protocol=${proto}`, `port=${s.port === 0 ? 'any' : s.port}`],
  };
}

function decideService(view: View, qname: string, qtype: number, service: ServiceEntry, zone: ZoneData): Decision {
  switch (qtype) {
    case QTYPE.A:
      if (service.proxyRequired) {
        // The reverse proxy at the service address relays by Host/SNI: no reservation needed, nothing to spend.
        return { kind: 'answer', spec: positive([{ name: qname, type: 'A', ttl: 0, data: view.serviceAddress }], [], view) };
      }
      return { kind: 'allocate', service, shape: 'A', zone };
    case QTYPE.SRV:
      if (service.srvName && !service.proxyRequired) return { kind: 'allocate', service, shape: 'SRV', zone };
      return { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view) };
    case QTYPE.TXT:
      return { kind: 'answer', spec: positive([serviceTxt(service, zone.soa.ttl, qname)], [], view) };
    case QTYPE.ANY:
      return { kind: 'answer', spec: anyAnswer(qname, zone, view) };
    default:
      return { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view) };
  }
}

export function decide(view: View, qname: string, qtype: number, qclass: number): Decision {
  if (qclass !== CLASS_IN) return { kind: 'answer', spec: refused() };
  if (qtype === QTYPE.AXFR || qtype === QTYPE.IXFR) return { kind: 'answer', spec: refused() };

  const found = view.tree.lookup(qname);
  if (found.kind === 'none') return view.forwards ? { kind: 'forward' } : { kind: 'answer', spec: refused() };

  const service = view.services.get(qname);
  if (service) return decideService(view, qname, qtype, service, found.zone);

  if (view.dynamic) {
    const dynamic = decideDynamic(view, view.dynamic, qname, qtype, found.zone);
    if (dynamic) return dynamic;
  }

  if (found.kind === 'nxdomain') return { kind: 'answer', spec: negative(found.zone, RCODE.NXDOMAIN, view) };
  if (qtype === QTYPE.ANY) return { kind: 'answer', spec: anyAnswer(qname, found.zone, view) };

  const typeName = TYPE_NAMES[qtype];
  const node = found.node;
  const direct = typeName ? node?.get(typeName) : undefined;
  if (direct) return { kind: 'answer', spec: positive(direct, additionalsFor(direct, view), view) };

  const cname = node?.get('CNAME');
  if (cname && typeName) return { kind: 'answer', spec: chase(view, cname[0], typeName, found.zone) };
  return { kind: 'answer', spec: negative(found.zone, RCODE.NOERROR, view) };
}

/** Worker names (zone-file names of the same spelling are shadowed while the worker is registered). */
function decideDynamic(view: View, names: DynamicNames, qname: string, qtype: number, zone: ZoneData): Decision | undefined {
  const node = names.records.get(qname);
  if (!node) return names.nonTerminals.has(qname) ? { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view) } : undefined;
  if (qtype === QTYPE.ANY) return { kind: 'answer', spec: anyAnswer(qname, zone, view) };
  const typeName = TYPE_NAMES[qtype];
  const rrs = typeName ? node.get(typeName) : undefined;
  if (!rrs) return { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view) };
  const glue = rrs.flatMap((rr) => (rr.type === 'SRV' ? names.records.get((rr.data as { target: string }).target)?.get('A') ?? [] : []));
  return { kind: 'answer', spec: positive(rrs, glue, view) };
}

/** Follows a CNAME chain inside our own zones; a target outside them is left to the client's resolver. */
function chase(view: View, first: Record, typeName: string, zone: ZoneData): ResponseSpec {
  const answers: Record[] = [first];
  let current = first;
  for (let i = 0; i < MAX_CNAME_CHAIN; i++) {
    const target = (current.data as string).toLowerCase();
    const found = view.tree.lookup(target);
    if (found.kind === 'none') break;
    if (found.kind === 'nxdomain') return { ...negative(found.zone, RCODE.NXDOMAIN, view), answers };
    const direct = found.node?.get(typeName);
    if (direct) return positive([...answers, ...direct], [], view);
    const next = found.node?.get('CNAME');
    if (!next) return { ...negative(found.zone, RCODE.NOERROR, view), answers };
    if (answers.includes(next[0])) break; // a loop: return what we have
    answers.push(next[0]);
    current = next[0];
  }
  return positive(answers, [], view);
}

/** The answer to an allocation, `address` being a placeholder in templates and patched per query. */
export function allocationSpec(view: View, qname: string, d: Extract<Decision, { kind: 'allocate' }>, address: string): ResponseSpec {
  if (d.shape === 'A') return positive([{ name: qname, type: 'A', ttl: 0, data: address }], [], view);
  const target = d.service.srvName!;
  return positive(
    [{ name: qname, type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: d.service.port, target } }],
    [{ name: target, type: 'A', ttl: 0, data: address }],
    view,
  );
}

/** Pool exhausted or the host over its cap, after the TCP retry: an empty answer, no SOA, so nothing caches it. */
export function emptyAnswer(view: View): ResponseSpec {
  return { rcode: RCODE.NOERROR, authoritative: true, recursionAvailable: view.forwards, answers: [], authorities: [], additionals: [] };
}
