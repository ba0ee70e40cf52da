import dnsPacket from 'dns-packet';

/** A plain query, RD clear (both benches talk to authoritative servers), class IN; qtype by number. */
export function encodeQuery(id: number, name: string, qtype = 1): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ name, type: `UNKNOWN_${qtype}` as dnsPacket.RecordType, class: 'IN' }] });
}
