/**
 * Realm Gateway's own wire formats for a service name's SRV and TXT answers. A Realm Gateway that resolves a
 * nested gateway (carriergrade) asks TXT, then SRV, then A, and reads the service's port, protocol and proxy
 * flag back out of these names by string surgery, so they must be byte for byte what it wrote itself (its
 * src/callbacks.py, dns_process_rgw_wan_soa and _do_resolve_carriergrade):
 *
 *   TXT  <qname> 0 IN TXT "proxy_<True|False>.port_<n>.protocol_<n>.<qname>."   + additional <qname> 0 IN A <addr>
 *   SRV  <qname> 0 IN SRV 10 100 <port> _<port>._<n>.<qname>                   + additional that target 0 IN A <addr>
 *
 * The protocol is a number (0 = any) and port 0 means any port, as in the subscriber files. The reader cuts
 * the name it asked for out of the answer, so the query's own spelling is kept rather than the canonical form.
 * Pure: the caller allocates the address and decides when these formats are served.
 */

import type { Record } from '../wire/response-spec.js';

/** What the formats carry about a service name (a ServiceName or a view's ServiceEntry fits). */
export interface RgwServiceFields {
  port: number;
  /** IP protocol number; 0 = any. */
  protocol: number;
  proxyRequired: boolean;
}

/** Reservations are single use: nothing of an allocating answer may be cached. */
const TTL = 0;

function bare(qname: string): string {
  return qname.endsWith('.') ? qname.slice(0, -1) : qname;
}

/** The TXT string, e.g. `proxy_False.port_22.protocol_6.ssh.hosta.gwa.demo.` (Python's spelling of booleans). */
export function rgwTxtString(s: RgwServiceFields, qname: string): string {
  return `proxy_${s.proxyRequired ? 'True' : 'False'}.port_${s.port}.protocol_${s.protocol}.${bare(qname)}.`;
}

/** The SRV target, e.g. `_22._6.ssh.hosta.gwa.demo` (the protocol as a number, unlike RFC 2782's `_tcp`). */
export function rgwSrvTarget(s: RgwServiceFields, qname: string): string {
  return `_${s.port}._${s.protocol}.${bare(qname)}`;
}

/** TXT answer for `qname`, and the allocated address for `qname` itself in the additional section. */
export function rgwTxtRecords(s: RgwServiceFields, qname: string, address: string): { answers: Record[]; additionals: Record[] } {
  const name = bare(qname);
  return {
    answers: [{ name, type: 'TXT', ttl: TTL, data: [rgwTxtString(s, qname)] }],
    additionals: [{ name, type: 'A', ttl: TTL, data: address }],
  };
}

/** SRV answer for `qname` pointing at the encoded target, and the allocated address for that target. */
export function rgwSrvRecords(s: RgwServiceFields, qname: string, address: string): { answers: Record[]; additionals: Record[] } {
  const target = rgwSrvTarget(s, qname);
  return {
    answers: [{ name: bare(qname), type: 'SRV', ttl: TTL, data: { priority: 10, weight: 100, port: s.port, target } }],
    additionals: [{ name: target, type: 'A', ttl: TTL, data: address }],
  };
}
