/**
 * realmgw's whole kernel state rendered from the DataplaneModel, as pure text: the nft table (one atomic
 * `nft -f` transaction), the iptables chains that cannot live in nft on this kernel (the NFQUEUE rules) plus
 * the firewall renderer's chains, and the ipsets. KernelState applies it; `realmgw rules` prints it.
 *
 * table ip realmgw
 *   set pool                     the pool addresses (intervals)
 *   chain prerouting  (nat, dstnat)
 *     nfqueue: DNAT by the mark userspace set on the first packet (map mark_dnat: mark -> host); a TCP
 *              connection is tagged pending in its ct mark (CT_TAG_MASK)
 *     nftset:  first packets jump to `confirm` (TCP: `confirm_tcp`), which matches a pending reservation in
 *              the kernel and DNATs through the paired map; exact, port wildcard, protocol wildcard, both.
 *              Not TCP: the pending element is deleted right there (single use). TCP: the connection is
 *              tagged with the shape in its ct mark and the element stays, see "TCP handshakes" below.
 *   chain forward / input (filter, filter - 10)
 *     TCP connections tagged pending that complete their handshake go through `handshake` first;
 *     anything still addressed to a pool address was not DNATed (no reservation, realmgw down with
 *     queue-bypass, or refused by userspace with the reject mark): reject or drop, never route it back out
 *   chain postrouting (nat, srcnat)   the realm's own outbound traffic leaves with the service address
 *
 * Reservations bound to a client subnet (the query's EDNS Client Subnet). nfqueue: the pool matches the
 * source. nftset: a bound reservation's marker goes in `pendb_<shape>` instead of `pend_<shape>`, and its
 * binding in `bind_<shape>`, keyed `client prefix . slot key` (flags interval: concatenated ranges); a first
 * packet consumes the marker only when its `ip saddr . key` is in the binding set. A packet that finds a bound
 * marker but not its binding is counted by the named counter `stolen` and left un-DNATed (refused below,
 * reservation untouched). Measured on kernel 6.18 / nft 1.0.6: an interval set cannot be dynamic (`flags
 * interval,dynamic` is EOPNOTSUPP) and the packet path cannot delete from one (`delete @set` on an interval
 * set: EOPNOTSUPP), hence the hash marker + lookup-only binding pair. Two elements of one interval set must not
 * overlap (EEXIST), also for one slot's successive bindings: the reservation plan removes a slot's previous
 * binding first (an expired one, even before GC, does not block the add).
 *
 * TCP handshakes (spoofed SYNs never consume a reservation). The SYN that matches a pending reservation is
 * DNATed WITHOUT consuming it; the connection's first ESTABLISHED packet in the original direction (the
 * client's handshake ACK: conntrack only calls it established once the host's SYN-ACK was seen, and its
 * window tracking marks an ACK that does not acknowledge the host's ISN invalid, so a blind ACK lands with
 * odds of about 66,000 / 2^32; SYN and RST are left out: a spoofer knows its own sequence numbers, so its RST
 * would pass the window check) consumes it:
 *   nftset:  `handshake` deletes the pending marker through the ct original tuple (`ct original ip daddr .
 *            ct protocol . ct original proto-dst`) and tags the connection consumed; the pool learns it from
 *            the conntrack UPDATE event carrying that tag (the SYN's `ct event set` keeps the connection's
 *            other events from userspace). No marker left (a concurrent handshake consumed it,
 *            or it expired): the ACK is answered with a reset and counted by the named counter `handshake`.
 *            The data right behind the ACK finds the tag already set when the kernel handles a flow's packets
 *            one after the other (one CPU per flow: RSS/RPS hash, or the sender's CPU on veth); two of its
 *            packets handled at once on two CPUs could see the marker gone and reset the connection.
 *   nfqueue: iptables queues that ACK again (connmark pending); userspace consumes the reservation and
 *            answers with the handshake-ok mark, which tags the connection consumed here, or the reject mark.
 *            Data queued right behind the ACK (before its verdict set the tag) is recognised by its tuple.
 * What a spoofed SYN costs (measured in the testbed, kernel defaults): one conntrack entry, SYN_RECV once the
 * host answers, gone 60 s later (nf_conntrack_tcp_timeout_syn_recv); the host's request socket and its SYN-ACKs
 * to the spoofed source (net.ipv4.tcp_synack_retries = 5: up to ~63 s to a silent source; in the testbed the
 * router's ICMP host-unreachable ended it after 2 SYN-ACKs, ~3 s; syncookies guard the host's backlog); the
 * reservation stays pending and expires unused (counted expired) or is
 * consumed by the real client's handshake. UDP, ICMP and other protocols have no handshake: they are still
 * consumed at their first packet, and only the client-subnet binding keeps a foreign first packet out.
 */
import { formatIpv4, parseIpv4 } from '../util/ipv4.js';
import { renderForwards } from '../forwards/render.js';
import { addressRanges, renderIpsets, type IpsetSpec } from './ipset.js';
import { renderIptables, type FirewallFragment, type IptablesJump } from './iptables.js';
import { CT_TAG_CONSUMED, CT_TAG_MASK, CT_TAG_SHIFT, HANDSHAKE_OK_MARK_OFFSET, NFQUEUE_PENDING_TAG, REJECT_MARK_OFFSET, type DataplaneModel } from './model.js';

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
/** Markers of reservations bound to a client subnet (consumed only by a packet from it). */
export const boundPendingSet = (shape: KeyShape): string => `pendb_${shape}`;
/** The bindings of bound markers: `client prefix . key` intervals. */
export const bindingSet = (shape: KeyShape): string => `bind_${shape}`;
export const targetMap = (shape: KeyShape): string => `dnat_${shape}`;
/**
 * nftset: the conntrack events a TCP connection to a pool address reports (`ct event set`, set at its SYN,
 * before conntrack confirms it): `assured` only, i.e. the one update in which the handshake ACK moves it to
 * ESTABLISHED (the same packet the handshake rule tags consumed; the mark is dumped with every event). Its
 * NEW, other state changes and DESTROY events were formatted by conntrack, piped and parsed only to be thrown
 * away (at 2,000 flows/s the two event readers took 20 % of a core with 10 % idle left on the machine).
 * Measured on kernel 6.18: the mask must leave out `protoinfo` and `mark`, which the SYN's own NEW event also
 * carries (a mask intersecting an event's bits lets the whole event through).
 */
export const TCP_CT_EVENTS = 'assured';

/** Named counters (nftset): first packets refused for a bound reservation's foreign source; handshakes refused. */
export const STOLEN_COUNTER = 'stolen';
export const HANDSHAKE_COUNTER = 'handshake';

/** The ct original-tuple expression of a shape's key (a packet of the connection after DNAT). */
const CT_KEY: Record<KeyShape, string> = {
  exact: 'ct original ip daddr . ct original protocol . ct original proto-dst',
  anyport: 'ct original ip daddr . ct original protocol',
  anyproto: 'ct original ip daddr . ct original proto-dst',
  any: 'ct original ip daddr',
};

/** The ct mark tag of a TCP connection DNATed by a pending (not yet consumed) reservation of this shape. */
export function pendingTag(shape: KeyShape, bound: boolean): number {
  return KEY_SHAPES.indexOf(shape) + 1 + (bound ? KEY_SHAPES.length : 0);
}

const tagValue = (tag: number): string => hex((tag << CT_TAG_SHIFT) >>> 0);
const setTag = (tag: number): string => `ct mark set ct mark & ${hex(~CT_TAG_MASK >>> 0)} | ${tagValue(tag)}`;
const hasTag = (tag: number): string => `ct mark & ${hex(CT_TAG_MASK)} == ${tagValue(tag)}`;


/**
 * Garbage-collection interval of the pending sets. An element the packet path consumed stays in the set's
 * hash table, dead, until the next GC run; a new reservation of the same key is inserted beside it, and once
 * enough dead copies share a hash bucket the kernel refuses the insert with EBUSY. With the default 1 s, a key
 * reserved a few hundred times a second hit that (measured: 4 keys at ~3,500 reservations/s failed within
 * 800 inserts); at 20 ms 20,000 such inserts saw 2 refusals, which ElementChannel retries.
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
    if (!Number.isInteger(h.markIndex) || h.markIndex < 1 || h.markIndex >= HANDSHAKE_OK_MARK_OFFSET) throw new Error(`host ${h.id}: markIndex ${h.markIndex} out of range 1..${HANDSHAKE_OK_MARK_OFFSET - 1}`);
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
  // static forwards: their counters, then their rules first in each chain (none of them is a pool address)
  const fwd = renderForwards(model.forwards ?? []);
  for (const line of fwd.objects) out.push(line.startsWith('}') ? '\t}' : `\n\t${line}`);
  const chain = (name: string, hook: string | undefined, rules: string[]) => {
    out.push('', `\tchain ${name} {`);
    if (hook) out.push(`\t\t${hook}`);
    for (const r of rules) out.push(`\t\t${r}`);
    out.push('\t}');
  };
  const refused = model.unmatched === 'reject' ? 'jump refuse' : 'drop';
  const forward: string[] = [...fwd.forward];
  if (model.confirm === 'nfqueue') {
    const hosts = [...model.hosts].sort((a, b) => a.markIndex - b.markIndex);
    out.push('', '\tmap mark_dnat {', '\t\ttype mark : ipv4_addr');
    if (hosts.length) out.push(`\t\telements = { ${hosts.map((h) => `${hex(model.markBase + h.markIndex)} : ${h.ipv4}`).join(', ')} }`);
    out.push('\t}');
    const aligned = model.markBase % 0x10000 === 0;
    const ours = aligned ? `meta mark & 0xffff0000 == ${hex(model.markBase)}` : `meta mark ${hex(model.markBase + 1)}-${hex(model.markBase + REJECT_MARK_OFFSET - 1)}`;
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', [
      ...fwd.prerouting,
      // a TCP connection is consumed by its handshake, not its SYN: tag it pending for the handshake rules
      `ip daddr @pool ${ours} meta l4proto tcp ${setTag(NFQUEUE_PENDING_TAG)} dnat ip to meta mark map @mark_dnat`,
      // userspace accepted the first packet with markBase + host.markIndex; any other mark finds no element
      `ip daddr @pool ${ours} dnat ip to meta mark map @mark_dnat`,
    ]);
    // the handshake ACK userspace judged (iptables queued it: connmark pending); it is already DNATed
    forward.push(
      `${hasTag(NFQUEUE_PENDING_TAG)} meta mark ${hex(model.markBase + HANDSHAKE_OK_MARK_OFFSET)} ${setTag(CT_TAG_CONSUMED)}`,
      `${hasTag(NFQUEUE_PENDING_TAG)} meta mark ${hex(model.markBase + REJECT_MARK_OFFSET)} counter jump refuse`,
    );
  } else {
    const size = pendingSetSize(model);
    for (const shape of KEY_SHAPES) {
      const s = SHAPES[shape];
      out.push('', `\tset ${pendingSet(shape)} {`, `\t\ttype ${s.type}`, `\t\tsize ${size}`, '\t\tflags dynamic,timeout', `\t\tgc-interval ${PENDING_GC_INTERVAL_MS}ms`, '\t}');
      out.push('', `\tmap ${targetMap(shape)} {`, `\t\ttype ${s.type} : ipv4_addr`, '\t\tflags timeout', '\t}');
    }
    for (const shape of KEY_SHAPES) {
      const s = SHAPES[shape];
      out.push('', `\tset ${boundPendingSet(shape)} {`, `\t\ttype ${s.type}`, `\t\tsize ${size}`, '\t\tflags dynamic,timeout', `\t\tgc-interval ${PENDING_GC_INTERVAL_MS}ms`, '\t}');
      out.push('', `\tset ${bindingSet(shape)} {`, `\t\ttype ipv4_addr . ${s.type}`, '\t\tflags interval,timeout', '\t}');
    }
    out.push('', `\tcounter ${STOLEN_COUNTER} {`, '\t}', '', `\tcounter ${HANDSHAKE_COUNTER} {`, '\t}');
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', [
      ...fwd.prerouting,
      // userspace learns a TCP consumption from the handshake's UPDATE event alone: no NEW or DESTROY events for
      // these connections (TCP_CT_EVENTS)
      `ct state new ip daddr @pool meta l4proto tcp ct event set ${TCP_CT_EVENTS} goto confirm_tcp`,
      'ct state new ip daddr @pool jump confirm',
    ]);
    const dnat = (shape: KeyShape) => `dnat ip to ${SHAPES[shape].expr} map @${targetMap(shape)}`;
    const bound = (shape: KeyShape) => `${SHAPES[shape].expr} @${boundPendingSet(shape)} ip saddr . ${SHAPES[shape].expr} @${bindingSet(shape)}`;
    const stolen = (shape: KeyShape) => `${SHAPES[shape].expr} @${boundPendingSet(shape)} counter name ${STOLEN_COUNTER} return`;
    chain(
      'confirm',
      undefined,
      KEY_SHAPES.flatMap((shape) => {
        const s = SHAPES[shape];
        // th dport of a portless protocol (ICMP) is whatever sits there (the ICMP checksum): never match it
        const guard = s.needsPorts ? `meta l4proto ${PORT_PROTOCOLS} ` : '';
        return [
          `${guard}${s.expr} @${pendingSet(shape)} delete @${pendingSet(shape)} { ${s.expr} } ${dnat(shape)}`,
          `${guard}${bound(shape)} delete @${boundPendingSet(shape)} { ${s.expr} } ${dnat(shape)}`,
          `${guard}${stolen(shape)}`,
        ];
      }),
    );
    chain(
      'confirm_tcp',
      undefined,
      KEY_SHAPES.flatMap((shape) => [
        `${SHAPES[shape].expr} @${pendingSet(shape)} ${setTag(pendingTag(shape, false))} ${dnat(shape)}`,
        `${bound(shape)} ${setTag(pendingTag(shape, true))} ${dnat(shape)}`,
        stolen(shape),
      ]),
    );
    chain(
      'handshake',
      undefined,
      [
        ...KEY_SHAPES.flatMap((shape) =>
          [false, true].map((b) => {
            const set = b ? boundPendingSet(shape) : pendingSet(shape);
            // nft types `ct original proto-dst` only after a protocol match in the same rule
            return `${SHAPES[shape].needsPorts ? 'meta l4proto tcp ' : ''}${hasTag(pendingTag(shape, b))} ${CT_KEY[shape]} @${set} delete @${set} { ${CT_KEY[shape]} } ${setTag(CT_TAG_CONSUMED)} return`;
          }),
        ),
        // the marker is gone: a concurrent handshake consumed it, or it expired during this one
        `counter name ${HANDSHAKE_COUNTER} ${refused}`,
      ],
    );
    const tags = `${hex((pendingTag('exact', false) << CT_TAG_SHIFT) >>> 0)}-${hex((pendingTag('any', true) << CT_TAG_SHIFT) >>> 0)}`;
    forward.push(`meta l4proto tcp tcp flags & (syn | rst | ack) == ack ct state established ct direction original ct mark & ${hex(CT_TAG_MASK)} ${tags} jump handshake`);
  }
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
    ...fwd.postrouting,
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
