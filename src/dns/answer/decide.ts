import { addressSlot, QUESTION_NAME, type AnswerRecord, type Record, type ResponseSpec } from '../wire/response-spec.js';
import { rgwTxtString } from './rgw-formats.js';
import { RCODE } from '../wire/parse-query.js';
import type { ZoneData } from '../authority/zone-tree.js';
import type { ServiceEntry, View } from '../authority/views.js';
import type { DynamicNames } from '../authority/worker-names.js';

/**
 * What to do with one question, decided from the view's data alone: no sockets, no clock, no pool. The query
 * handler carries out the decision (allocating, forwarding, sending). Every answer is complete: records owned
 * by the question name say so (QUESTION_NAME), and an allocation's address is an explicit slot, so encoding
 * needs neither the name's text nor a stand-in address.
 */
export type Decision =
  /** A complete answer, the same for every query with this question: safe to cache. */
  | { kind: 'answer'; spec: ResponseSpec }
  /** A service name: reserve a pool address, then send `spec` with the address in its slot. */
  | { kind: 'allocate'; service: ServiceEntry; shape: AllocationShape; spec: ResponseSpec }
  /** LAN only: not ours, ask the upstream resolvers. */
  | { kind: 'forward' };

/**
 * An allocation answers A with the address, SRV with the service's port and the address as glue, or (Realm
 * Gateway's formats) TXT describing the service with the address as additional A.
 */
export type AllocationShape = 'A' | 'SRV' | 'TXT';

export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, IXFR: 251, AXFR: 252, ANY: 255 } as const;
const CLASS_IN = 1;
const MAX_CNAME_CHAIN = 8;

const TYPE_NAMES: { [t: number]: string } = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 257: 'CAA',
};

export function refused(): ResponseSpec {
  return { rcode: RCODE.REFUSED, authoritative: false, answers: [], authorities: [], additionals: [] };
}

/**
 * Records as part of the answer to `qname`: the ones it owns are written as the question. Zone records are
 * shared, so those are copies.
 */
function answering(qname: string, records: Record[]): AnswerRecord[] {
  return records.map((rr) => (rr.name === qname ? { ...rr, name: QUESTION_NAME } : rr));
}

/** RFC 2308: the SOA in a negative answer carries min(SOA TTL, SOA minimum) as its TTL. */
function negativeSoa(zone: ZoneData): Record {
  const min = (zone.soa.data as { minimum: number }).minimum;
  return { ...zone.soa, ttl: Math.min(zone.soa.ttl, min) };
}

function negative(zone: ZoneData, rcode: number, view: View, qname: string, answers: AnswerRecord[] = []): ResponseSpec {
  return { rcode, authoritative: true, recursionAvailable: view.forwards, answers, authorities: answering(qname, [negativeSoa(zone)]), additionals: [] };
}

function positive(answers: AnswerRecord[], additionals: AnswerRecord[], view: View): ResponseSpec {
  return { rcode: RCODE.NOERROR, authoritative: true, recursionAvailable: view.forwards, answers, authorities: [], additionals };
}

/** RFC 8482: answer ANY with one synthesized HINFO instead of everything we hold. */
function anyAnswer(zone: ZoneData, view: View): ResponseSpec {
  return positive([{ name: QUESTION_NAME, type: 'HINFO', ttl: zone.soa.ttl, data: { cpu: 'RFC8482', os: '' } }], [], view);
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

function serviceTxt(s: ServiceEntry, ttl: number): AnswerRecord {
  const proto = s.protocol === 0 ? 'any' : ({ 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' } as { [p: number]: string })[s.protocol] ?? String(s.protocol);
  return {
    name: QUESTION_NAME,
    type: 'TXT',
    ttl,
    data: [`proxy_required=${s.proxyRequired}`, `protocol=${proto}`, `port=${s.port === 0 ? 'any' : s.port}`],
  };
}

function allocation(view: View, qname: string, service: ServiceEntry, shape: AllocationShape): Decision {
  return { kind: 'allocate', service, shape, spec: allocationAnswer(view, qname, service, shape) };
}

function decideService(view: View, qname: string, qtype: number, service: ServiceEntry, zone: ZoneData): Decision {
  switch (qtype) {
    case QTYPE.A:
      if (service.proxyRequired) {
        // The reverse proxy at the service address relays by Host/SNI: no reservation needed, nothing to spend.
        return { kind: 'answer', spec: positive([{ name: QUESTION_NAME, type: 'A', ttl: 0, data: view.serviceAddress }], [], view) };
      }
      return allocation(view, qname, service, 'A');
    case QTYPE.SRV:
      if (service.srvName && !service.proxyRequired) return allocation(view, qname, service, 'SRV');
      return { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view, qname) };
    case QTYPE.TXT:
      // Realm Gateway's TXT allocates: a parent gateway asks TXT, SRV, then A, and may connect after any of them
      if (view.rgwFormats && !service.proxyRequired) return allocation(view, qname, service, 'TXT');
      if (view.rgwFormats) {
        // proxied: the description and the relay's address, nothing reserved (as the A answer)
        const txt: AnswerRecord = { name: QUESTION_NAME, type: 'TXT', ttl: 0, data: [rgwTxtString(service, qname)] };
        return { kind: 'answer', spec: positive([txt], [{ name: QUESTION_NAME, type: 'A', ttl: 0, data: view.serviceAddress }], view) };
      }
      return { kind: 'answer', spec: positive([serviceTxt(service, zone.soa.ttl)], [], view) };
    case QTYPE.ANY:
      return { kind: 'answer', spec: anyAnswer(zone, view) };
    default:
      return { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view, qname) };
  }
}

/** `qname` is canonical (Question.name); the answer is for whoever asked it, in whatever case. */
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

  if (found.kind === 'nxdomain') return { kind: 'answer', spec: negative(found.zone, RCODE.NXDOMAIN, view, qname) };
  if (qtype === QTYPE.ANY) return { kind: 'answer', spec: anyAnswer(found.zone, view) };

  const typeName = TYPE_NAMES[qtype];
  const node = found.node;
  const direct = typeName ? node?.get(typeName) : undefined;
  if (direct) return { kind: 'answer', spec: positive(answering(qname, direct), answering(qname, additionalsFor(direct, view)), view) };

  const cname = node?.get('CNAME');
  if (cname && typeName) return { kind: 'answer', spec: chase(view, qname, cname[0], typeName) };
  return { kind: 'answer', spec: negative(found.zone, RCODE.NOERROR, view, qname) };
}

/** Worker names (zone-file names of the same spelling are shadowed while the worker is registered). */
function decideDynamic(view: View, names: DynamicNames, qname: string, qtype: number, zone: ZoneData): Decision | undefined {
  const node = names.records.get(qname);
  if (!node) return names.nonTerminals.has(qname) ? { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view, qname) } : undefined;
  if (qtype === QTYPE.ANY) return { kind: 'answer', spec: anyAnswer(zone, view) };
  const typeName = TYPE_NAMES[qtype];
  const rrs = typeName ? node.get(typeName) : undefined;
  if (!rrs) return { kind: 'answer', spec: negative(zone, RCODE.NOERROR, view, qname) };
  const glue = rrs.flatMap((rr) => (rr.type === 'SRV' ? names.records.get((rr.data as { target: string }).target)?.get('A') ?? [] : []));
  return { kind: 'answer', spec: positive(answering(qname, rrs), answering(qname, glue), view) };
}

/** Follows a CNAME chain inside our own zones; a target outside them is left to the client's resolver. */
function chase(view: View, qname: string, first: Record, typeName: string): ResponseSpec {
  const chain: Record[] = [first];
  let current = first;
  for (let i = 0; i < MAX_CNAME_CHAIN; i++) {
    const target = (current.data as string).toLowerCase();
    const found = view.tree.lookup(target);
    if (found.kind === 'none') break;
    if (found.kind === 'nxdomain') return negative(found.zone, RCODE.NXDOMAIN, view, qname, answering(qname, chain));
    const direct = found.node?.get(typeName);
    if (direct) return positive(answering(qname, [...chain, ...direct]), [], view);
    const next = found.node?.get('CNAME');
    if (!next) return negative(found.zone, RCODE.NOERROR, view, qname, answering(qname, chain));
    if (chain.includes(next[0])) break; // a loop: return what we have
    chain.push(next[0]);
    current = next[0];
  }
  return positive(answering(qname, chain), [], view);
}

/**
 * The answer to an allocation for the question `qname` (which, after a CNAME challenge, is the alias rather
 * than the service's name): TTL 0, and the address an explicit slot that each reservation fills. An SRV
 * answer's glue is owned by the SRV target, which is the question itself when the client asked for the
 * `_<port>._<proto>` name.
 */
export function allocationAnswer(view: View, qname: string, service: ServiceEntry, shape: AllocationShape): ResponseSpec {
  if (shape === 'A') return positive([addressSlot(QUESTION_NAME, 0)], [], view);
  if (shape === 'TXT') return positive([{ name: QUESTION_NAME, type: 'TXT', ttl: 0, data: [rgwTxtString(service, qname)] }], [addressSlot(QUESTION_NAME, 0)], view);
  const target = service.srvName!;
  return positive(
    [{ name: QUESTION_NAME, type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: service.port, target } }],
    [addressSlot(target === qname ? QUESTION_NAME : target, 0)],
    view,
  );
}

/** Pool exhausted or the host over its cap, after the TCP retry: an empty answer, no SOA, so nothing caches it. */
export function emptyAnswer(view: View): ResponseSpec {
  return { rcode: RCODE.NOERROR, authoritative: true, recursionAvailable: view.forwards, answers: [], authorities: [], additionals: [] };
}
