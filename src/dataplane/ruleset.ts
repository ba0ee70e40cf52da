/**
 * realmgw's whole kernel state rendered from the DataplaneModel, as pure text: the nft table (one atomic
 * `nft -f` transaction), the iptables chains that cannot live in nft on this kernel (the NFQUEUE rule) plus
 * the firewall renderer's chains, and the ipsets. KernelState applies it; `realmgw rules` prints it.
 *
 * table ip realmgw
 *   set pool                     the pool addresses (intervals)
 *   chain prerouting  (nat, dstnat)
 *     nfqueue: DNAT by the mark userspace set on the first packet (map mark_dnat: mark -> host)
 *     nftset:  first packets jump to `confirm`, which matches a pending reservation in the kernel, deletes it
 *              (single use) and DNATs through the paired map; exact, port wildcard, protocol wildcard, both
 *   chain forward / input (filter, filter - 10)
 *     anything still addressed to a pool address was not DNATed (no reservation, realmgw down with
 *     queue-bypass, or refused by userspace with the reject mark): reject or drop, never route it back out
 *   chain postrouting (nat, srcnat)   the realm's own outbound traffic leaves with the service address
 */
import { formatIpv4, parseIpv4 } from '../util/ipv4.js';
import { addressRanges, renderIpsets, type IpsetSpec } from './ipset.js';
import { renderIptables, type FirewallFragment, type IptablesJump } from './iptables.js';
import { REJECT_MARK_OFFSET, type DataplaneModel } from './model.js';

export type { FirewallFragment, IptablesJump } from './iptables.js';
export type { IpsetSpec } from './ipset.js';

export interface RenderedRuleset {
  /** One `nft -f` transaction: creates table ip <model.table> from scratch, replacing any previous copy. */
  nft: string;
  /** `iptables-restore --noflush` input for our own chains only ('' when a table needs nothing). */
  iptables: { mangle: string; filter: string };
  /** Rules in builtin chains that jump to our chains; KernelState inserts each once, at the top. */
  jumps: IptablesJump[];
  /** Our iptables chains. */
  chains: { table: 'mangle' | 'filter'; chain: string }[];
  ipsets: IpsetSpec[];
}

export interface RenderOptions {
  /** The firewall renderer's output (see FirewallFragment); absent: no firewall chains. */
  firewall?: FirewallFragment;
}

/** The four key shapes of a reservation, in match order. */
export type KeyShape = 'exact' | 'anyport' | 'anyproto' | 'any';
export const KEY_SHAPES: readonly KeyShape[] = ['exact', 'anyport', 'anyproto', 'any'];

/** Protocols whose packets carry a destination port (as the pool's protocolHasPorts). */
export const PORT_PROTOCOLS = '{ tcp, udp, dccp, sctp, udplite }';

interface ShapeDef {
  type: string;
  /** packet expression producing the key */
  expr: string;
  /** only packets of protocols with ports can match a key that names a port */
  needsPorts: boolean;
}

const SHAPES: Record<KeyShape, ShapeDef> = {
  exact: { type: 'ipv4_addr . inet_proto . inet_service', expr: 'ip daddr . meta l4proto . th dport', needsPorts: true },
  anyport: { type: 'ipv4_addr . inet_proto', expr: 'ip daddr . meta l4proto', needsPorts: false },
  anyproto: { type: 'ipv4_addr . inet_service', expr: 'ip daddr . th dport', needsPorts: true },
  any: { type: 'ipv4_addr', expr: 'ip daddr', needsPorts: false },
};

export const pendingSet = (shape: KeyShape): string => `pend_${shape}`;
export const targetMap = (shape: KeyShape): string => `dnat_${shape}`;

/** The target map outlives its pending marker by this much, so a packet that found the marker finds the map. */
export const TARGET_SLACK_MS = 1000;

/**
 * Garbage-collection interval of the pending sets. An element the packet path consumed stays in the set's
 * hash table, dead, until the next GC run; a new reservation of the same key is inserted beside it, and once
 * enough dead copies share a hash bucket the kernel refuses the insert with EBUSY. With the default 1 s, a key
 * reserved a few hundred times a second hit that (measured: 4 keys at ~3,500 reservations/s failed within
 * 800 inserts); at 20 ms 20,000 such inserts saw 2 refusals, which NftChannel retries.
 */
export const PENDING_GC_INTERVAL_MS = 20;

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

function checkModel(model: DataplaneModel): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(model.table)) throw new Error(`invalid nft table name '${model.table}'`);
  if (!/^[A-Za-z][A-Za-z0-9]{0,11}$/.test(model.prefix)) throw new Error(`invalid prefix '${model.prefix}' (letters and digits, at most 12)`);
  for (const i of [model.wanInterface, model.lanInterface]) {
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(i)) throw new Error(`invalid interface name '${i}'`);
  }
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(model.lanNetwork)) throw new Error(`invalid LAN network '${model.lanNetwork}'`);
  parseIpv4(model.serviceAddress);
  if (model.poolAddresses.length === 0) throw new Error('the pool is empty');
  if (model.markBase % 1 !== 0 || model.markBase < 0x10000 || model.markBase + REJECT_MARK_OFFSET > 0xffffffff) throw new Error(`invalid markBase ${model.markBase}`);
  const marks = new Set<number>();
  for (const h of model.hosts) {
    if (!Number.isInteger(h.markIndex) || h.markIndex < 1 || h.markIndex >= REJECT_MARK_OFFSET) throw new Error(`host ${h.id}: markIndex ${h.markIndex} out of range 1..${REJECT_MARK_OFFSET - 1}`);
    if (marks.has(h.markIndex)) throw new Error(`host ${h.id}: markIndex ${h.markIndex} used twice`);
    marks.add(h.markIndex);
    parseIpv4(h.ipv4);
  }
}

/** Room for pending reservations per key shape (a dynamic set needs a size; memory is per element). */
export function pendingSetSize(model: DataplaneModel): number {
  return Math.max(262_144, model.poolAddresses.length * 4);
}

/** The nft transaction (pure). */
export function renderNft(model: DataplaneModel): string {
  checkModel(model);
  const t = model.table;
  const pool = addressRanges(model.poolAddresses)
    .map(([a, b]) => (a === b ? formatIpv4(a) : `${formatIpv4(a)}-${formatIpv4(b)}`))
    .join(', ');
  const refused = model.unmatched === 'reject' ? 'jump refuse' : 'drop';
  const out: string[] = [
    `# realmgw kernel state (${model.confirm} confirmation): replaces table ip ${t} atomically`,
    `table ip ${t}`,
    `delete table ip ${t}`,
    `table ip ${t} {`,
    '\tset pool {',
    '\t\ttype ipv4_addr',
    '\t\tflags interval',
    `\t\telements = { ${pool} }`,
    '\t}',
  ];
  const chain = (name: string, hook: string | undefined, rules: string[]) => {
    out.push('', `\tchain ${name} {`);
    if (hook) out.push(`\t\t${hook}`);
    for (const r of rules) out.push(`\t\t${r}`);
    out.push('\t}');
  };
  if (model.confirm === 'nfqueue') {
    const hosts = [...model.hosts].sort((a, b) => a.markIndex - b.markIndex);
    out.push('', '\tmap mark_dnat {', '\t\ttype mark : ipv4_addr');
    if (hosts.length) out.push(`\t\telements = { ${hosts.map((h) => `${hex(model.markBase + h.markIndex)} : ${h.ipv4}`).join(', ')} }`);
    out.push('\t}');
    const aligned = model.markBase % 0x10000 === 0;
    const ours = aligned ? `meta mark & 0xffff0000 == ${hex(model.markBase)}` : `meta mark ${hex(model.markBase + 1)}-${hex(model.markBase + REJECT_MARK_OFFSET - 1)}`;
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', [
      // userspace accepted the first packet with markBase + host.markIndex; any other mark finds no element
      `ip daddr @pool ${ours} dnat ip to meta mark map @mark_dnat`,
    ]);
  } else {
    const size = pendingSetSize(model);
    for (const shape of KEY_SHAPES) {
      const s = SHAPES[shape];
      out.push('', `\tset ${pendingSet(shape)} {`, `\t\ttype ${s.type}`, `\t\tsize ${size}`, '\t\tflags dynamic,timeout', `\t\tgc-interval ${PENDING_GC_INTERVAL_MS}ms`, '\t}');
      out.push('', `\tmap ${targetMap(shape)} {`, `\t\ttype ${s.type} : ipv4_addr`, '\t\tflags timeout', '\t}');
    }
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['ct state new ip daddr @pool jump confirm']);
    chain(
      'confirm',
      undefined,
      KEY_SHAPES.map((shape) => {
        const s = SHAPES[shape];
        // th dport of a portless protocol (ICMP) is whatever sits there (the ICMP checksum): never match it
        const guard = s.needsPorts ? `meta l4proto ${PORT_PROTOCOLS} ` : '';
        return `${guard}${s.expr} @${pendingSet(shape)} delete @${pendingSet(shape)} { ${s.expr} } dnat ip to ${s.expr} map @${targetMap(shape)}`;
      }),
    );
  }
  const forward: string[] = [];
  if (model.confirm === 'nfqueue') forward.push(`ip daddr @pool meta mark ${hex(model.markBase + REJECT_MARK_OFFSET)} counter jump refuse`);
  forward.push(`ip daddr @pool counter ${refused}`);
  chain('forward', 'type filter hook forward priority filter - 10; policy accept;', forward);
  chain('input', 'type filter hook input priority filter - 10; policy accept;', [`ip daddr @pool counter ${refused}`]);
  chain('refuse', undefined, [
    'meta l4proto tcp reject with tcp reset',
    'meta l4proto udp reject with icmp type port-unreachable',
    'reject with icmp type host-unreachable',
  ]);
  chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [
    `ip saddr ${model.lanNetwork} oifname "${model.wanInterface}" snat ip to ${model.serviceAddress}`,
  ]);
  out.push('}', '');
  return out.join('\n');
}

/** Everything realmgw installs for a model (pure). */
export function renderRuleset(model: DataplaneModel, opts: RenderOptions = {}): RenderedRuleset {
  const nft = renderNft(model);
  const ipt = renderIptables(model, opts.firewall);
  return { nft, iptables: { mangle: ipt.mangle, filter: ipt.filter }, jumps: ipt.jumps, chains: ipt.chains, ipsets: renderIpsets(model) };
}

/* ---------- nftset confirmation: one reservation's elements ---------- */

export interface ReservationElement {
  /** Pool address (dotted quad or u32). */
  address: string | number;
  /** 0 = any. */
  protocol: number;
  /** 0 = any. */
  port: number;
  /** The host's address (dotted quad or u32). */
  target: string | number;
  lifetimeMs: number;
}

export function keyShape(protocol: number, port: number): KeyShape {
  if (protocol !== 0) return port !== 0 ? 'exact' : 'anyport';
  return port !== 0 ? 'anyproto' : 'any';
}

const dotted = (a: string | number): string => (typeof a === 'number' ? formatIpv4(a) : formatIpv4(parseIpv4(a)));

function elementKey(r: ReservationElement): { shape: KeyShape; key: string } {
  if (!Number.isInteger(r.protocol) || r.protocol < 0 || r.protocol > 255) throw new Error(`invalid protocol ${r.protocol}`);
  if (!Number.isInteger(r.port) || r.port < 0 || r.port > 65535) throw new Error(`invalid port ${r.port}`);
  const shape = keyShape(r.protocol, r.port);
  const a = dotted(r.address);
  const key = { exact: `${a} . ${r.protocol} . ${r.port}`, anyport: `${a} . ${r.protocol}`, anyproto: `${a} . ${r.port}`, any: a }[shape];
  return { shape, key };
}

function nftsetOnly(model: DataplaneModel): void {
  if (model.confirm !== 'nftset') throw new Error(`reservation elements exist only in nftset confirmation mode (model is ${model.confirm})`);
}

/**
 * nft commands (one line: one transaction) that make a reservation live in the kernel: the target map
 * element (lifetime + TARGET_SLACK_MS) and the pending marker (lifetime) that the first packet consumes.
 * Run it on an NftChannel. Fails with "File exists" only if the map still holds this key for another
 * target (a missed renderReservationDelete); run renderReservationDelete for that stale reservation first.
 */
export function renderReservationAdd(model: DataplaneModel, r: ReservationElement): string {
  nftsetOnly(model);
  const { shape, key } = elementKey(r);
  if (!(r.lifetimeMs > 0) || !Number.isFinite(r.lifetimeMs)) throw new Error(`invalid lifetimeMs ${r.lifetimeMs}`);
  const ms = Math.ceil(r.lifetimeMs);
  const t = model.table;
  return (
    `add element ip ${t} ${targetMap(shape)} { ${key} timeout ${ms + TARGET_SLACK_MS}ms : ${dotted(r.target)} }; ` +
    `add element ip ${t} ${pendingSet(shape)} { ${key} timeout ${ms}ms }`
  );
}

/** The pending marker alone (its timeout is the reservation's lifetime). */
export function renderPendingAdd(model: DataplaneModel, r: ReservationElement): string {
  nftsetOnly(model);
  const { shape, key } = elementKey(r);
  if (!(r.lifetimeMs > 0) || !Number.isFinite(r.lifetimeMs)) throw new Error(`invalid lifetimeMs ${r.lifetimeMs}`);
  return `add element ip ${model.table} ${pendingSet(shape)} { ${key} timeout ${Math.ceil(r.lifetimeMs)}ms }`;
}

/** The target map element alone, with its own timeout. */
export function renderTargetAdd(model: DataplaneModel, r: Omit<ReservationElement, 'lifetimeMs'>, timeoutMs: number): string {
  nftsetOnly(model);
  const { shape, key } = elementKey({ ...r, lifetimeMs: 1 });
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new Error(`invalid timeoutMs ${timeoutMs}`);
  return `add element ip ${model.table} ${targetMap(shape)} { ${key} timeout ${Math.ceil(timeoutMs)}ms : ${dotted(r.target)} }`;
}

/** Removes the pending marker whether or not it is still there (added first: a no-op when present). */
export function renderPendingClear(model: DataplaneModel, r: Omit<ReservationElement, 'lifetimeMs' | 'target'>): string {
  nftsetOnly(model);
  const { shape, key } = elementKey({ ...r, target: 0, lifetimeMs: 1 });
  const t = model.table;
  return `add element ip ${t} ${pendingSet(shape)} { ${key} }; delete element ip ${t} ${pendingSet(shape)} { ${key} }`;
}

/** Removes the target map element whether or not it is still there; `r.target` must be the one it holds. */
export function renderTargetClear(model: DataplaneModel, r: Omit<ReservationElement, 'lifetimeMs'>): string {
  nftsetOnly(model);
  const { shape, key } = elementKey({ ...r, lifetimeMs: 1 });
  const t = model.table;
  return `add element ip ${t} ${targetMap(shape)} { ${key} : ${dotted(r.target)} }; delete element ip ${t} ${targetMap(shape)} { ${key} }`;
}

/** Bare deletes of a slot's pending marker and map element, one transaction each (either may fail: not there). */
export function renderSlotDeletes(model: DataplaneModel, r: Omit<ReservationElement, 'lifetimeMs' | 'target'>): string[] {
  nftsetOnly(model);
  const { shape, key } = elementKey({ ...r, target: 0, lifetimeMs: 1 });
  const t = model.table;
  return [`delete element ip ${t} ${pendingSet(shape)} { ${key} }`, `delete element ip ${t} ${targetMap(shape)} { ${key} }`];
}

/**
 * nft commands that remove a reservation's elements whether or not they are still there (consumed by a
 * packet, expired, or live): each is added first (a no-op when present), then deleted, in one transaction.
 */
export function renderReservationDelete(model: DataplaneModel, r: Omit<ReservationElement, 'lifetimeMs'> & { lifetimeMs?: number }): string {
  nftsetOnly(model);
  const { shape, key } = elementKey({ ...r, lifetimeMs: 1 });
  const t = model.table;
  return (
    `add element ip ${t} ${pendingSet(shape)} { ${key} }; delete element ip ${t} ${pendingSet(shape)} { ${key} }; ` +
    `add element ip ${t} ${targetMap(shape)} { ${key} : ${dotted(r.target)} }; delete element ip ${t} ${targetMap(shape)} { ${key} }`
  );
}
