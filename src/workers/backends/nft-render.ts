/**
 * The nftables worker-lease backend as text (pure): the fixed table and the element operations of a LeaseDiff.
 * NftMappingBackend (nft-backend.ts) is the only place that hands this text to the kernel.
 *
 * table ip realmgw_workers            realmgw's own, independent of the data plane's table ip realmgw
 *   map leases       meta l4proto . th dport (public port) -> worker address . worker port
 *   set conns        same key, counted: one hit per connection (nat chains see a connection's first packet only)
 *   set traffic_in   same key, counted: packets toward the worker
 *   set traffic_out  same key, counted: packets back to the clients
 *   chain prerouting   (nat, dstnat)       DNAT of <publicAddress>:<public port> through @leases
 *   chain forward      (filter, filter+10) accounting only, never a verdict
 *   chain postrouting  (nat, srcnat)       FULL-NAT: SNAT to <privateAddress>
 *
 * Every set is keyed by the lease's public key, so one lease is four elements and a diff is element
 * operations only: the cost of applying it does not grow with the number of leases already mapped.
 */
import type { ErrorCode } from '../../errors/catalogue.js';
import { errorMessage } from '../../errors/realmgw-error.js';
import { isIpv4, parseIpv4 } from '../../util/ipv4.js';
import { isPort, type Lease, type LeaseDiff, PROTOCOLS } from '../lease.js';
import { leaseId } from '../mapping-backend.js';

export const DEFAULT_NFT_WORKERS_TABLE = 'realmgw_workers';

/** Names inside the table (counter parsing reads them back). */
export const NFT_WORKERS_SETS = {
  leases: 'leases',
  conns: 'conns',
  trafficIn: 'traffic_in',
  trafficOut: 'traffic_out',
} as const;

/** The counted sets, in the order their elements are written. */
const COUNTED_SETS = [NFT_WORKERS_SETS.conns, NFT_WORKERS_SETS.trafficIn, NFT_WORKERS_SETS.trafficOut] as const;

export interface NftWorkersOptions {
  table?: string;
  publicAddress: string;
  privateAddress: string;
  privateNetwork: string;
}

/** Checked options, with the private network as numbers for the per-lease check. */
export interface NftWorkersSetup {
  readonly table: string;
  readonly publicAddress: string;
  readonly privateAddress: string;
  readonly privateNetwork: string;
  readonly networkBase: number;
  readonly networkMask: number;
}

/** Bad options or a lease the backend refuses to map; nothing was sent to the kernel. */
export class NftWorkersError extends Error {
  readonly code = 'RGW_NFT_WORKERS_REFUSED' satisfies ErrorCode;
  constructor(readonly problems: readonly string[]) {
    super(errorMessage('RGW_NFT_WORKERS_REFUSED', { problems: problems.join('; ') }));
    this.name = 'NftWorkersError';
  }
}

// Table names go into nft commands verbatim: nothing that nft's parser could read as more than a name.
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const CIDR = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

export function isNftTableName(name: string): boolean {
  return TABLE_NAME.test(name);
}

/** Checks the options; throws NftWorkersError listing every problem. */
export function compileNftWorkersOptions(opts: NftWorkersOptions): NftWorkersSetup {
  const problems: string[] = [];
  const table = opts.table ?? DEFAULT_NFT_WORKERS_TABLE;
  if (!isNftTableName(table)) problems.push(`table ${JSON.stringify(table)} is not a plain name (letters, digits, '_')`);
  if (!isIpv4(opts.publicAddress)) problems.push(`publicAddress ${JSON.stringify(opts.publicAddress)} is not an IPv4 address`);
  const m = CIDR.exec(opts.privateNetwork);
  const prefix = m ? Number(m[2]) : NaN;
  let networkBase = 0;
  let networkMask = 0;
  if (m === null || !isIpv4(m[1]) || !(prefix >= 1 && prefix <= 32)) {
    problems.push(`privateNetwork ${JSON.stringify(opts.privateNetwork)} is not an IPv4 CIDR block such as 10.200.0.0/24`);
  } else {
    networkMask = (0xffffffff << (32 - prefix)) >>> 0;
    networkBase = parseIpv4(m[1]);
    if (((networkBase & networkMask) >>> 0) !== networkBase) problems.push(`privateNetwork ${opts.privateNetwork} has host bits set`);
  }
  if (!isIpv4(opts.privateAddress)) {
    problems.push(`privateAddress ${JSON.stringify(opts.privateAddress)} is not an IPv4 address`);
  } else if (networkMask !== 0 && ((parseIpv4(opts.privateAddress) & networkMask) >>> 0) !== networkBase) {
    problems.push(`privateAddress ${opts.privateAddress} is outside privateNetwork ${opts.privateNetwork}`);
  }
  if (problems.length > 0) throw new NftWorkersError(problems);
  return Object.freeze({
    table,
    publicAddress: opts.publicAddress,
    privateAddress: opts.privateAddress,
    privateNetwork: opts.privateNetwork,
    networkBase,
    networkMask,
  });
}

/**
 * Why the key of `lease` (protocol and public port) cannot be written, or undefined. Removals need no more than
 * this: nft deletes by key.
 */
function keyProblem(lease: Lease): string | undefined {
  if (!PROTOCOLS.includes(lease.protocol)) return `protocol ${JSON.stringify(lease.protocol)} is not tcp or udp`;
  if (!isPort(lease.publicPort)) return `public port ${String(lease.publicPort)} is not a port (1-65535)`;
  return undefined;
}

/**
 * Why `lease` may not be mapped, or undefined. The registry already maps only to the address a worker
 * registered from inside the private network; refusing here too means a registry bug can never open a relay
 * into the gateway's other networks or onto the gateway itself.
 */
export function leaseProblem(setup: NftWorkersSetup, lease: Lease): string | undefined {
  const key = keyProblem(lease);
  if (key) return key;
  const { address, port } = lease.target ?? {};
  if (!isPort(port)) return `target port ${String(port)} is not a port (1-65535)`;
  if (typeof address !== 'string' || !isIpv4(address)) return `target ${JSON.stringify(address)} is not an IPv4 address`;
  if (((parseIpv4(address) & setup.networkMask) >>> 0) !== setup.networkBase) {
    return `target ${address} is outside the private network ${setup.privateNetwork}`;
  }
  if (address === setup.privateAddress) return `target ${address} is the gateway's own private address`;
  return undefined;
}

/** Every reason `diff` is refused (empty: it may be applied). */
export function diffProblems(setup: NftWorkersSetup, diff: LeaseDiff): string[] {
  const problems: string[] = [];
  const check = (verb: 'add' | 'remove', leases: readonly Lease[]) => {
    const seen = new Set<string>();
    for (const lease of leases) {
      const why = verb === 'add' ? leaseProblem(setup, lease) : keyProblem(lease);
      if (why) {
        problems.push(`${verb} ${describe(lease)}: ${why}`);
        continue;
      }
      const id = leaseId(lease);
      if (seen.has(id)) problems.push(`${verb} ${describe(lease)}: ${id} appears twice`);
      seen.add(id);
    }
  };
  check('remove', diff.remove);
  check('add', diff.add);
  return problems;
}

/**
 * One `nft -f` transaction that replaces any previous copy of the table (a leftover of a killed run) with a
 * fresh one holding `leases`: `table` + `delete table` first, so the delete never fails on a missing table.
 */
export function renderNftWorkersStart(setup: NftWorkersSetup, leases: readonly Lease[]): string {
  const problems = diffProblems(setup, { add: leases, remove: [] });
  if (problems.length > 0) throw new NftWorkersError(problems);
  const t = setup.table;
  const pub = setup.publicAddress;
  const key = 'type inet_proto . inet_service';
  const out = [
    `# realmgw worker leases: replaces table ip ${t} atomically`,
    `table ip ${t}`,
    `delete table ip ${t}`,
    `table ip ${t} {`,
    `\tmap ${NFT_WORKERS_SETS.leases} {`,
    `\t\t${key} : ipv4_addr . inet_service`,
    '\t}',
  ];
  for (const set of COUNTED_SETS) out.push('', `\tset ${set} {`, `\t\t${key}`, '\t\tcounter', '\t}');
  const chain = (name: string, hook: string, rules: string[]) => out.push('', `\tchain ${name} {`, `\t\t${hook}`, ...rules.map((r) => `\t\t${r}`), '\t}');

  chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', [
    // th dport of another protocol is whatever sits there: only tcp and udp can be keys
    `ip daddr ${pub} meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @${NFT_WORKERS_SETS.leases}`,
  ]);
  // "Ours" is recognised from conntrack alone: the connection was addressed to the public address, was
  // DNATed, and its original destination port is one of our keys. No packet or conntrack mark is needed, so
  // nothing here can collide with the marks the data plane's table uses. `ct original proto-dst` has a type
  // only once the protocol is known, hence one rule per protocol.
  const ours = (proto: string) => `meta l4proto ${proto} ct status dnat ct original ip daddr ${pub}`;
  const lookup = `meta l4proto . ct original proto-dst`;
  // After the filter-priority chains (iptables FORWARD, the data plane at filter - 10) had their say, so a
  // packet a firewall dropped is not counted as delivered.
  chain(
    'forward',
    'type filter hook forward priority filter + 10; policy accept;',
    PROTOCOLS.flatMap((p) => [
      `${ours(p)} ct direction original ${lookup} @${NFT_WORKERS_SETS.trafficIn}`,
      `${ours(p)} ct direction reply ${lookup} @${NFT_WORKERS_SETS.trafficOut}`,
    ]),
  );
  // FULL-NAT (NOTES §7): the worker sees the gateway's private address as the source, so its replies come back
  // here whatever its default route is. This lookup is also the connection counter.
  chain(
    'postrouting',
    'type nat hook postrouting priority srcnat; policy accept;',
    PROTOCOLS.map((p) => `${ours(p)} ${lookup} @${NFT_WORKERS_SETS.conns} snat ip to ${setup.privateAddress}`),
  );
  out.push('}');
  if (leases.length > 0) out.push(...addCommands(t, leases));
  return `${out.join('\n')}\n`;
}

/**
 * The element commands of `diff`, one complete command per line (NftChannel runs them as one transaction):
 * every removal before any addition, so a public port can leave with one target and return with another.
 * Throws NftWorkersError when the diff is refused; an empty diff renders no line.
 */
export function renderNftWorkersDiff(setup: NftWorkersSetup, diff: LeaseDiff): string[] {
  const problems = diffProblems(setup, diff);
  if (problems.length > 0) throw new NftWorkersError(problems);
  const lines: string[] = [];
  if (diff.remove.length > 0) {
    const keys = diff.remove.map(keyText).join(', ');
    for (const set of [NFT_WORKERS_SETS.leases, ...COUNTED_SETS]) lines.push(`delete element ip ${setup.table} ${set} { ${keys} }`);
  }
  if (diff.add.length > 0) lines.push(...addCommands(setup.table, diff.add));
  return lines;
}

function addCommands(table: string, leases: readonly Lease[]): string[] {
  const mapped = leases.map((l) => `${keyText(l)} : ${l.target.address} . ${l.target.port}`).join(', ');
  const keys = leases.map(keyText).join(', ');
  return [`add element ip ${table} ${NFT_WORKERS_SETS.leases} { ${mapped} }`, ...COUNTED_SETS.map((s) => `add element ip ${table} ${s} { ${keys} }`)];
}

function keyText(lease: Lease): string {
  return `${lease.protocol} . ${lease.publicPort}`;
}

function describe(lease: Lease): string {
  const target = lease.target ? `${String(lease.target.address)}:${String(lease.target.port)}` : '?';
  return `${String(lease.protocol)}/${String(lease.publicPort)} -> ${target} (worker ${String(lease.worker)})`;
}
