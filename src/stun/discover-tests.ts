// The behaviour tests of NAT discovery against one server, after test I answered: RFC 5780 §4.3/§4.4 and
// RFC 3489 §10.1. They only send probes and compare answers; the decisions are in classify.ts.
//
// Order matters with a stateful NAT: the filtering tests (answers from addresses we never sent to) run
// before anything is sent to the alternate address, or the NAT would already let its answers in. Tests that
// cannot disturb each other run side by side, so a discovery costs a few time budgets, not one per test.
import { formatEndpoint, sameEndpoint, transportAddress, type TransportAddress } from './address.js';
import {
  classify5780,
  classifyClassic,
  type ChangeOutcome,
  type Classification,
  type MappingOutcome,
} from './classify.js';
import type { RequestSpec, TransactionOutcome } from './transaction.js';

/** Sends one request (with retransmissions), records it, resolves with its outcome. */
export type Probe = (name: string, to: TransportAddress, spec?: RequestSpec) => Promise<TransactionOutcome>;

/**
 * What a CHANGE-REQUEST test says: an answer from another address than `target` (and another port when the
 * change asked for one) is a response; an error response or an answer from the wrong place is 'unsupported'.
 */
function changeOutcome(o: TransactionOutcome, target: TransportAddress, spec: RequestSpec, notes: string[], name: string): ChangeOutcome {
  if (o.kind === 'timeout') return 'no-response';
  if (o.message.cls !== 'success') {
    notes.push(`${name}: error response ${o.message.errorCode?.code ?? '?'}: the server did not change its source`);
    return 'unsupported';
  }
  const ipOk = spec.changeIp ? o.from.address !== target.address : o.from.address === target.address;
  const portOk = spec.changePort ? o.from.port !== target.port : o.from.port === target.port;
  if (ipOk && portOk) return 'response';
  notes.push(`${name}: answered from ${formatEndpoint(o.from)}, not from the changed address`);
  return 'unsupported';
}

function mappedOf(o: TransactionOutcome): TransportAddress | undefined {
  if (o.kind !== 'response' || o.message.cls !== 'success') return undefined;
  return o.message.xorMappedAddress ?? o.message.mappedAddress;
}

function compare(o: TransactionOutcome | undefined, previous: TransportAddress | undefined): MappingOutcome {
  if (!o) return 'not-run';
  const m = mappedOf(o);
  if (!m || !previous) return 'no-response';
  return sameEndpoint(m, previous) ? 'same' : 'different';
}

/** Change both when the server has an alternate port; only the address when its alternate shares our port. */
function changeBoth(other: TransportAddress, target: TransportAddress): RequestSpec {
  return { changeIp: true, changePort: other.port !== target.port };
}

export async function run5780(
  probe: Probe,
  target: TransportAddress,
  other: TransportAddress,
  mapped: TransportAddress,
  mappedIsLocal: boolean,
  notes: string[],
): Promise<Classification> {
  const f2spec = changeBoth(other, target);
  const f3spec: RequestSpec = { changePort: true };
  const [f2, f3] = await Promise.all([probe('filtering-II', target, f2spec), probe('filtering-III', target, f3spec)]);
  const filteringII = changeOutcome(f2, target, f2spec, notes, 'filtering-II');
  const filteringIII = filteringII === 'no-response' ? changeOutcome(f3, target, f3spec, notes, 'filtering-III') : 'not-run';

  let mappingII: MappingOutcome = 'not-run';
  let mappingIII: MappingOutcome = 'not-run';
  if (!mappedIsLocal) {
    const viaIp = transportAddress(other.address, target.port);
    const hasPort = other.port !== target.port;
    if (!hasPort) notes.push('the alternate address shares the primary port: address- and port-dependent mapping cannot be told apart');
    const [m2, m3] = await Promise.all([probe('mapping-II', viaIp), hasPort ? probe('mapping-III', other) : undefined]);
    mappingII = compare(m2, mapped);
    mappingIII = compare(m3, mappedOf(m2));
  }
  return classify5780({ mappedIsLocal, mappingII, mappingIII, filteringII, filteringIII });
}

export async function runClassic(
  probe: Probe,
  target: TransportAddress,
  changed: TransportAddress,
  mapped: TransportAddress,
  mappedIsLocal: boolean,
  notes: string[],
): Promise<Classification> {
  const t2spec: RequestSpec = { classic: true, ...changeBoth(changed, target) };
  const t3spec: RequestSpec = { classic: true, changePort: true };
  const [t2, t3] = await Promise.all([probe('classic-II', target, t2spec), probe('classic-III', target, t3spec)]);
  const testII = changeOutcome(t2, target, t2spec, notes, 'classic-II');
  const testIII = testII === 'no-response' ? changeOutcome(t3, target, t3spec, notes, 'classic-III') : 'not-run';
  // Test I again towards the other address, only after the change tests (it opens the NAT towards that
  // address). RFC 3489 sends it to CHANGED-ADDRESS itself, but test II's unanswered datagram from there left a
  // conntrack entry on a Linux NAT for exactly that (remote, mapped port) pair: the NAT must then pick another
  // port and a cone looks symmetric. The other address on the primary port (every RFC 3489 server listens
  // there: it answers change-IP) tells the same thing - does the mapping change with the destination - without
  // meeting that entry.
  const needIb = !mappedIsLocal && testII !== 'response';
  const viaIp = transportAddress(changed.address, target.port);
  const testIb = needIb ? compare(await probe('classic-I-changed', viaIp, { classic: true }), mapped) : 'not-run';
  return classifyClassic({ mappedIsLocal, testII, testIII, testIb });
}
