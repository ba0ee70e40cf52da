// NAT classification: pure functions from what the discovery tests observed to the behaviour they imply.
// RFC 5780 §4.3 (mapping) and §4.4 (filtering), and the RFC 3489 §10.1 classic decision tree.

export type MappingBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';
export type FilteringBehaviour = MappingBehaviour;
export type ClassicNatType =
  | 'open'
  | 'full cone'
  | 'restricted'
  | 'port restricted'
  | 'symmetric'
  | 'symmetric udp firewall'
  | 'blocked'
  | 'unknown';

/**
 * Outcome of a request sent with CHANGE-REQUEST: answered from the address asked for, not answered within the
 * time budget, or `unsupported` (an error response such as 420, or an answer from the wrong address: the
 * server did not do what the test needs, so the test says nothing).
 */
export type ChangeOutcome = 'response' | 'no-response' | 'unsupported';

/** A mapped address compared with the previous test's: the same, different, or the test had no answer / was not run. */
export type MappingOutcome = 'same' | 'different' | 'no-response' | 'not-run';

export interface Classification {
  mapping: MappingBehaviour;
  filtering: FilteringBehaviour;
  classic: ClassicNatType;
}

export interface Rfc5780Observations {
  /** test I's mapped address is one of this host's own addresses and the socket's port: no NAT */
  mappedIsLocal: boolean;
  /** mapping test II (to the alternate address, primary port) against test I */
  mappingII: MappingOutcome;
  /** mapping test III (alternate address and port) against test II */
  mappingIII: MappingOutcome;
  /** filtering test II: CHANGE-REQUEST change IP and port */
  filteringII: ChangeOutcome;
  /** filtering test III: CHANGE-REQUEST change port */
  filteringIII: ChangeOutcome | 'not-run';
}

export function mappingFrom5780(o: Rfc5780Observations): MappingBehaviour {
  if (o.mappedIsLocal) return 'endpoint-independent';
  if (o.mappingII === 'same') return 'endpoint-independent';
  if (o.mappingII !== 'different') return 'unknown';
  if (o.mappingIII === 'same') return 'address-dependent';
  if (o.mappingIII === 'different') return 'address-and-port-dependent';
  return 'unknown';
}

export function filteringFrom5780(o: Pick<Rfc5780Observations, 'filteringII' | 'filteringIII'>): FilteringBehaviour {
  if (o.filteringII === 'response') return 'endpoint-independent';
  if (o.filteringII === 'unsupported') return 'unknown';
  if (o.filteringIII === 'response') return 'address-dependent';
  if (o.filteringIII === 'no-response') return 'address-and-port-dependent';
  return 'unknown';
}

/** The classic name for a mapping and filtering behaviour pair (RFC 5780 §1 relates them). */
export function classicName(mappedIsLocal: boolean, mapping: MappingBehaviour, filtering: FilteringBehaviour): ClassicNatType {
  if (mappedIsLocal) {
    if (filtering === 'endpoint-independent') return 'open';
    return filtering === 'unknown' ? 'unknown' : 'symmetric udp firewall';
  }
  if (mapping === 'address-dependent' || mapping === 'address-and-port-dependent') return 'symmetric';
  if (mapping === 'unknown') return 'unknown';
  switch (filtering) {
    case 'endpoint-independent':
      return 'full cone';
    case 'address-dependent':
      return 'restricted';
    case 'address-and-port-dependent':
      return 'port restricted';
    default:
      return 'unknown';
  }
}

export function classify5780(o: Rfc5780Observations): Classification {
  const mapping = mappingFrom5780(o);
  const filtering = filteringFrom5780(o);
  return { mapping, filtering, classic: classicName(o.mappedIsLocal, mapping, filtering) };
}

export interface ClassicObservations {
  mappedIsLocal: boolean;
  /** test II: change IP and port */
  testII: ChangeOutcome;
  /** test III: change port (run alongside test II; its answer also tells restricted from port restricted) */
  testIII: ChangeOutcome | 'not-run';
  /** test I again, to the CHANGED-ADDRESS, against the first test I */
  testIb: MappingOutcome;
}

/**
 * RFC 3489 §10.1. The classic tests cannot tell address-dependent from address-and-port-dependent mapping,
 * so a symmetric NAT is reported with mapping 'unknown'.
 */
export function classifyClassic(o: ClassicObservations): Classification {
  const filtering = filteringFrom5780({ filteringII: o.testII, filteringIII: o.testIII });
  if (o.mappedIsLocal) return { mapping: 'endpoint-independent', filtering, classic: classicName(true, 'endpoint-independent', filtering) };
  if (o.testII === 'response') return { mapping: 'endpoint-independent', filtering, classic: 'full cone' };
  if (o.testIb === 'different') return { mapping: 'unknown', filtering, classic: 'symmetric' };
  if (o.testIb !== 'same') return { mapping: 'unknown', filtering, classic: 'unknown' };
  return { mapping: 'endpoint-independent', filtering, classic: classicName(false, 'endpoint-independent', filtering) };
}

/** No server answered test I. */
export const BLOCKED: Classification = { mapping: 'unknown', filtering: 'unknown', classic: 'blocked' };
export const UNKNOWN: Classification = { mapping: 'unknown', filtering: 'unknown', classic: 'unknown' };
