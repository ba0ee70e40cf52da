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

/* ---------- nftset confirmation: which set a reservation's key goes in ---------- */

export function keyShape(protocol: number, port: number): KeyShape {
  if (protocol !== 0) return port !== 0 ? 'exact' : 'anyport';
  return port !== 0 ? 'anyproto' : 'any';
}
