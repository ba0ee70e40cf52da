/**
 * Static forwards as lines of realmgw's own nft table (pure; ruleset.ts places them, `realmgw rules` prints
 * them, KernelState installs them in the table's one transaction).
 *
 *   counter fwd_<id>_new       connections opened (the nat chain sees only a connection's first packet)
 *   counter fwd_<id>_traffic   packets and bytes of those connections, both directions (filter forward)
 *   prerouting (nat, dstnat)   ip daddr A [ip saddr {allowFrom}] meta l4proto P th dport X  -> dnat
 *                              a range maps one to one through an anonymous map: th dport -> host . port
 *   postrouting (nat, srcnat)  fullnat only: the DNATed connection also leaves with the inner address, so
 *                              the host's replies come back through the gateway whatever its default route
 * <id> is the rule's name with '-' as '_' (nft object names); names are [a-z0-9-] so ids never collide.
 * Measured on kernel 6.18 / nft 1.0.6: `dnat ip addr . port to th dport map { ... }` and `ct original
 * proto-dst <range>` after an l4proto match are accepted; nft lists the range map as `dnat ip to udp dport map`.
 * A source outside allowFrom is not DNATed: its packet reaches the gateway's own stack, which has nothing on
 * that port (TCP reset / ICMP port unreachable), unless realmgw itself listens there — which check refuses.
 */
import { formatCidr } from '../util/cidr.js';
import { formatIpv4 } from '../util/ipv4.js';
import type { StaticForward } from './model.js';

export interface ForwardsFragment {
  /** Named counters, declared in the table. */
  objects: string[];
  prerouting: string[];
  forward: string[];
  postrouting: string[];
}

export function forwardId(name: string): string {
  return name.replace(/-/g, '_');
}

export function forwardCounters(name: string): { connections: string; traffic: string } {
  const id = forwardId(name);
  return { connections: `fwd_${id}_new`, traffic: `fwd_${id}_traffic` };
}

const ports = (f: StaticForward) => (f.first === f.last ? String(f.first) : `${f.first}-${f.last}`);

function dnat(f: StaticForward): string {
  const host = formatIpv4(f.toAddress);
  if (f.first === f.last) return `dnat ip to ${host}:${f.toPort}`;
  const pairs: string[] = [];
  for (let p = f.first; p <= f.last; p++) pairs.push(`${p} : ${host} . ${f.toPort + (p - f.first)}`);
  return `dnat ip addr . port to th dport map { ${pairs.join(', ')} }`;
}

/** The connection as conntrack keeps it: the client's original destination, before DNAT. */
function original(f: StaticForward): string {
  return `meta l4proto ${f.protocol} ct status dnat ct original ip daddr ${formatIpv4(f.address)} ct original proto-dst ${ports(f)}`;
}

export function renderForwards(forwards: readonly StaticForward[]): ForwardsFragment {
  const out: ForwardsFragment = { objects: [], prerouting: [], forward: [], postrouting: [] };
  for (const f of forwards) {
    const c = forwardCounters(f.name);
    out.objects.push(`counter ${c.connections} {`, '}', `counter ${c.traffic} {`, '}');
    const from = f.allowFrom.length ? ` ip saddr { ${f.allowFrom.map(formatCidr).join(', ')} }` : '';
    out.prerouting.push(`ip daddr ${formatIpv4(f.address)}${from} meta l4proto ${f.protocol} th dport ${ports(f)} counter name ${c.connections} ${dnat(f)}`);
    out.forward.push(`${original(f)} counter name ${c.traffic}`);
    if (f.snatTo !== undefined) out.postrouting.push(`${original(f)} snat ip to ${formatIpv4(f.snatTo)}`);
  }
  return out;
}
