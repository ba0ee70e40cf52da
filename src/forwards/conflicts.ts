import { parseCidr } from '../util/cidr.js';
import { formatIpv4, parseIpv4 } from '../util/ipv4.js';
import { MAX_RANGE_PORTS, type ForwardsSection } from './schema.js';

/** A problem at a key path from the config's root; load-config adds file and line. */
export interface ForwardProblem {
  path: (string | number)[];
  reason: string;
}

/** A socket realmgw itself listens on: no forward may take its port on its address. */
export interface OwnListener {
  /** '0.0.0.0': every address. */
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** For the message, e.g. "DNS (dns.wan.listen[0])". */
  what: string;
}

/** What the forwards are checked against: the rest of the gateway's config, already valid on its own. */
export interface ForwardContext {
  serviceAddress: string;
  poolAddresses: ReadonlySet<number>;
  /** Forwards live in realmgw's nft table: without a data plane nothing would install them. */
  hasDataplane: boolean;
  /** Workers lease ports on publicAddress in [first, last], for TCP and UDP. */
  workers?: { publicAddress: string; first: number; last: number };
  listeners: readonly OwnListener[];
}

const overlaps = (a1: number, a2: number, b1: number, b2: number) => a1 <= b2 && b1 <= a2;
const span = (first: number, last: number) => (first === last ? String(first) : `${first}-${last}`);

/**
 * Every conflict and impossibility in the forwards section, all at once (pure): duplicate names, ranges that
 * are reversed, too long or map past port 65535, pool addresses (DNATed per reservation, never fixed), the
 * workers' port range, realmgw's own listeners, and other forwards on the same address, protocol and ports.
 */
export function forwardProblems(section: ForwardsSection, ctx: ForwardContext): ForwardProblem[] {
  const problems: ForwardProblem[] = [];
  const at = (...p: (string | number)[]) => ['forwards', ...p];
  if (!ctx.hasDataplane) problems.push({ path: at(), reason: 'static forwards need the data plane (a dataplane section): they are installed in realmgw\'s nft table' });
  const names = new Map<string, number>();
  const dnsNames = new Map<string, number>();
  const placed: { i: number; address: number; protocol: string; first: number; last: number; name: string }[] = [];
  section.rules.forEach((r, i) => {
    const rule = (...p: (string | number)[]) => at('rules', i, ...p);
    const seen = names.get(r.name);
    if (seen !== undefined) problems.push({ path: rule('name'), reason: `"${r.name}" is already the name of rules[${seen}]` });
    else names.set(r.name, i);
    if (r.dns !== undefined) {
      const key = r.dns.toLowerCase().replace(/\.$/, '');
      const other = dnsNames.get(key);
      if (other !== undefined) problems.push({ path: rule('dns'), reason: `"${r.dns}" is already published by rules[${other}]` });
      else dnsNames.set(key, i);
    }
    const [first, last] = typeof r.port === 'number' ? [r.port, r.port] : r.port;
    let portsOk = true;
    if (first > last) {
      problems.push({ path: rule('port'), reason: `[${first}, ${last}] is reversed: write [first, last]` });
      portsOk = false;
    } else if (last - first + 1 > MAX_RANGE_PORTS) {
      problems.push({ path: rule('port'), reason: `${last - first + 1} ports; one rule forwards at most ${MAX_RANGE_PORTS}` });
      portsOk = false;
    } else if (r.to.port + (last - first) > 65535) {
      problems.push({ path: rule('to', 'port'), reason: `ports ${span(first, last)} map one to one onto ${r.to.port}-${r.to.port + (last - first)}, past 65535` });
    }
    (r.allowFrom ?? []).forEach((c, j) => {
      const parsed = parseCidr(c);
      if ('error' in parsed) problems.push({ path: rule('allowFrom', j), reason: parsed.error });
    });
    if (r.mode === 'fullnat' && section.innerAddress === undefined) {
      problems.push({ path: rule('mode'), reason: 'fullnat needs forwards.innerAddress (the gateway\'s address on the inner network, the source the host sees)' });
    }
    const addressText = r.address ?? ctx.serviceAddress;
    const address = parseIpv4(addressText);
    if (r.address !== undefined && ctx.poolAddresses.has(address)) {
      problems.push({ path: rule('address'), reason: `${addressText} is a pool address: pool addresses are DNATed per reservation, never forwarded` });
      portsOk = false;
    }
    const to = parseIpv4(r.to.address);
    if (ctx.poolAddresses.has(to) || to === address) problems.push({ path: rule('to', 'address'), reason: `${r.to.address} is one of the gateway's public addresses, not a private host` });
    if (!portsOk) return;
    const w = ctx.workers;
    if (w && (r.protocol === 'tcp' || r.protocol === 'udp') && parseIpv4(w.publicAddress) === address && overlaps(first, last, w.first, w.last)) {
      problems.push({ path: rule('port'), reason: `${span(first, last)} overlaps the workers' ports ${span(w.first, w.last)} on ${addressText}` });
    }
    for (const l of ctx.listeners) {
      if (l.protocol !== r.protocol || (l.address !== '0.0.0.0' && parseIpv4(l.address) !== address)) continue;
      if (l.port >= first && l.port <= last) problems.push({ path: rule('port'), reason: `${r.protocol} ${l.port} on ${addressText} is realmgw's own ${l.what} listener` });
    }
    for (const p of placed) {
      if (p.address === address && p.protocol === r.protocol && overlaps(first, last, p.first, p.last)) {
        problems.push({ path: rule('port'), reason: `${r.protocol} ${span(first, last)} on ${formatIpv4(address)} overlaps rules[${p.i}] ("${p.name}", ${span(p.first, p.last)})` });
      }
    }
    placed.push({ i, address, protocol: r.protocol, first, last, name: r.name });
  });
  return problems;
}
