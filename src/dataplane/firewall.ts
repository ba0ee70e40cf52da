/**
 * Subscriber firewall rules (FIREWALL_ADMIN / FIREWALL_USER) rendered into iptables, table filter, for the
 * gateway's FORWARD path. Pure: `renderFirewall(model)` returns iptables-restore text; applying it (and
 * inserting `jumps` into FORWARD) is the ruleset's job.
 *
 * Chains (prefix P = model.prefix, e.g. "RGW"; iptables allows 28 characters):
 *   P-FW        entered from FORWARD by the one jump in `jumps` ("-j P-FW"); accepts related packets and
 *               replies, then dispatches a host's packets to its chain.
 *   P-H-<n>     one per host with at least one rule, n = host.markIndex: the host's FIREWALL_ADMIN rules,
 *               then its FIREWALL_USER rules, each list in the order the loader sorted it (priority, then
 *               file order). One iptables rule per subscriber rule.
 *   P-REJECT    REJECT for rules without a protocol: TCP gets a reset, everything else ICMP port unreachable.
 * The fragment declares them, then lists each chain's rules, chains in byte order as iptables-save does.
 *
 * Whose packet is it. EGRESS = from the host: in from the LAN interface with source host.ipv4. INGRESS = to
 * the host: out to the LAN interface with destination host.ipv4 (inbound pool traffic is DNATed in PREROUTING,
 * so FORWARD already sees the host's address; outbound SNAT happens after FORWARD). ANY = either. P-FW jumps
 * to P-H-<n> for the directions the host has rules for, and every rule repeats its direction test
 * (`-s host/32 -i LAN` or `-d host/32 -o LAN`), so a rule only ever sees its own host's packets. A rule's own
 * `src` on an EGRESS rule (or `dst` on an INGRESS rule) must contain the host's address and adds nothing;
 * one that does not can never match and is reported by firewallProblems. A packet routed from one LAN host to
 * another through the gateway meets the sender's chain first; a terminal verdict there ends evaluation.
 *
 * Verdicts. ACCEPT, DROP and REJECT are terminal for the filter table's FORWARD hook, like any iptables
 * verdict: ACCEPT skips whatever FORWARD holds after our jump (so the ruleset should place gateway-wide drops,
 * e.g. anti-spoofing or ctstate INVALID, before it). REJECT: `--reject-with tcp-reset` on protocol 6 rules,
 * `icmp-port-unreachable` on other protocols (what iptables and RealmGateway's mREJECT send for UDP; a reset
 * is the answer a TCP client understands at once), and P-REJECT picks per packet when the rule names no
 * protocol. A packet no rule matches returns from the host chain and from P-FW and continues in FORWARD,
 * i.e. it is accepted by default. That is RealmGateway's behaviour (its host chains end in CONTINUE and its
 * admin policy ends in ACCEPT), its demo policies end with explicit "Allow outgoing/incoming" ACCEPT rules
 * anyway, and a gateway that silently dropped a host's traffic because its file has no catch-all rule would
 * be the worse surprise. A subscriber who wants default deny writes a last DROP rule.
 *
 * Connection tracking. P-FW starts with
 *   -m conntrack --ctstate RELATED -j ACCEPT                     (ICMP errors etc. of tracked flows)
 *   -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT   (replies)
 * and evaluates everything else, i.e. every packet a flow's initiator sends, not only the first.
 *   - Replies are accepted because policies say who may *start* traffic: "INGRESS ... DROP" must not kill the
 *     replies to the host's own outbound connections, which it would if replies were judged as INGRESS.
 *   - Packets in the initiator's direction are judged one by one, because two kinds of rules are about
 *     packets, not flows: a string match on TCP payload only ever sees established packets (the SYN carries
 *     none), and a hashlimit rule that counted only first packets would be bypassed by any client that
 *     reuses one UDP socket. RealmGateway accepted ESTABLISHED in both directions before any host rule, which
 *     made both kinds weaker than they read; realmgw keeps them meaning what they say.
 *   - Consequence: a policy change applies to the next packet of existing flows in the initiator's
 *     direction (tightening a policy cuts flows it now forbids; their replies still pass but nothing new
 *     reaches the responder). Rules see the initiator's packets only: a string rule cannot inspect the
 *     contents of replies (e.g. a download the host asked for).
 *   - Cost: replies, usually the bulk of a download, leave at the second rule of P-FW; initiator packets walk
 *     the dispatch list, two rules per host with rules, so the cost grows linearly with such hosts.
 *
 * Matches, in this order in every rule (iptables evaluates left to right and stops at the first mismatch,
 * so the hashlimit, which spends tokens, only sees packets every other match accepted):
 *   -s/-d/-i/-o, -p (tcp/udp/icmp/sctp by name, others by number), -m tcp|udp|sctp --sport/--dport (a or
 *   a:b), -m icmp --icmp-type t[/c], -m string (--string "..." when every byte is printable ASCII, else
 *   --hex-string "|..|"; --algo bm|kmp), -m hashlimit, -m comment --comment "...", -j verdict.
 * The text is what `iptables-save` (1.8.9) prints for the same rules, so a live dump can be compared with a
 * render line by line; only protocols other than tcp/udp/icmp/sctp differ (iptables-save names them from
 * /etc/protocols). In particular a hashlimit rate is written in iptables-save's unit (60/min becomes 1/sec)
 * and the bucket expiry is written whenever it differs from that unit, so the kernel gets exactly what
 * iptables would have made of the subscriber's text (whose default expiry is one unit of the rate as written).
 *
 * hashlimit names: the kernel keeps one bucket table per name and network namespace, and a second rule with a
 * known name silently shares the first rule's table *and configuration*. Every rule therefore gets its own
 * table: `<subscriber name>-<markIndex in base 36>`, the subscriber's name cut so the whole fits 15
 * characters; if that is still taken (one host reusing a name, or two long names cut alike), `_<k>` is added
 * before the suffix with the smallest k that makes it unique. Hosts are taken in markIndex order and rules in
 * chain order, so the names are deterministic and stay the same across re-renders while markIndex does.
 *
 * Escaping: comments and string patterns are double-quoted as iptables-save quotes them (a comment of only
 * letters, digits, '_' and '-' stays bare), with `"` and `\` (and `'` in comments) backslash-escaped;
 * inside quotes iptables-restore takes the character after a backslash literally. Control characters (a
 * newline would end the restore line and start a rule of the subscriber's choosing) are refused by
 * firewallProblems, and renderFirewall refuses any model with problems, so nothing a policy file says can
 * become iptables syntax.
 *
 * GROUP: subscriber rules have no key that names a group, so the rendered filter references no ipset; the
 * groups become ipsets named by `groupSetName` for the kernel-state code (and for future group policies).
 */
import { createHash } from 'node:crypto';
import type { Problem } from '../errors.js';
import type { FirewallRule, HashLimit, Ipv4Prefix, PortRange } from '../policy/index.js';
import { isIpv4, parseIpv4 } from '../util/ipv4.js';
import type { DataplaneHost, DataplaneModel } from './model.js';

export interface FirewallRender {
  /**
   * iptables-restore fragment for table filter, without the `*filter` / `COMMIT` lines: the ':CHAIN - [0:0]'
   * declarations of our chains, then their '-A CHAIN ...' rules. Restored with --noflush, a declaration
   * flushes an existing chain of that name, so re-applying replaces our chains' contents in one transaction.
   */
  filter: string;
  /** Rule specs to insert into FORWARD, e.g. '-j RGW-FW'. */
  jumps: string[];
  /** Every chain `filter` declares, in its (byte) order: what to remove when a later render drops one. */
  chains: string[];
}

/** iptables chain names hold at most 28 characters (XT_EXTENSION_MAXNAMELEN 29 with the NUL). */
export const CHAIN_NAME_MAX = 28;
/** hashlimit table names hold at most 15 characters (IFNAMSIZ 16 with the NUL). */
export const HASHLIMIT_NAME_MAX = 15;
/** IPSET_MAXNAMELEN is 32 with the terminating NUL. */
export const IPSET_NAME_MAX = 31;
/** xt_string's XT_STRING_MAX_PATTERN_SIZE. */
export const STRING_PATTERN_MAX = 128;
/** xt_comment's XT_MAX_COMMENT_LEN is 256 with the NUL. */
export const COMMENT_MAX_BYTES = 255;

const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };
const PORT_PROTOCOLS = new Set([6, 17, 132]);
const HASHLIMIT_MODE_ORDER = ['srcip', 'srcport', 'dstip', 'dstport'] as const;
const UNIT_SECONDS: Record<HashLimit['per'], number> = { second: 1, minute: 60, hour: 3600, day: 86400 };
const SCALE = 1_000_000n; // XT_HASHLIMIT_SCALE_v2
const U64_MAX = (1n << 64n) - 1n;
/** iptables-save's rate units, longest first, with their length in SCALE units (libxt_hashlimit `rates`). */
const SAVE_UNITS: [string, bigint][] = [
  ['day', SCALE * 86400n],
  ['hour', SCALE * 3600n],
  ['min', SCALE * 60n],
  ['sec', SCALE],
];
/**
 * The kernel's token bucket holds burst * (1 / rate) as `avg * burst * F` in 64 bits, F = HZ * CREDITS_PER_JIFFY
 * / 10^6, which depends on the kernel's HZ (the check only rejects some overflows; others wrap silently).
 * The largest F over HZ = 100, 250, 300, 1000 bounds avg * burst for every common kernel (about 31 hours).
 */
const MAX_AVG_TIMES_BURST: bigint = (() => {
  const day = 86400n;
  let maxF = 0n;
  for (const hz of [100n, 250n, 300n, 1000n]) {
    const maxCpj = U64_MAX / (hz * day);
    let cpj = 1n;
    while (cpj * 2n <= maxCpj) cpj *= 2n;
    const f = (hz * cpj) / SCALE;
    if (f > maxF) maxF = f;
  }
  return U64_MAX / maxF;
})();

/** Names of the chains realmgw's firewall owns. */
export function firewallChainNames(model: Pick<DataplaneModel, 'prefix'>): { fw: string; reject: string; host: (markIndex: number) => string } {
  return {
    fw: `${model.prefix}-FW`,
    reject: `${model.prefix}-REJECT`,
    host: (markIndex: number) => `${model.prefix}-H-${markIndex}`,
  };
}

/**
 * The ipset of a policy GROUP: `<prefix lowercased>-g-<name>`, characters other than letters, digits, '_',
 * '.', '-' replaced by '_'; a name too long for ipset's 31 characters keeps its head and ends in '-' and 6
 * hex digits of the SHA-1 of the full group name. Deterministic; the same scheme as ipset.ts uses.
 */
export function groupSetName(model: Pick<DataplaneModel, 'prefix'>, group: string): string {
  const head = `${model.prefix.toLowerCase()}-g-`;
  const clean = group.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (head.length + clean.length <= IPSET_NAME_MAX) return head + clean;
  const room = IPSET_NAME_MAX - head.length - 7;
  if (room < 1) throw new RangeError(`prefix ${JSON.stringify(model.prefix)} leaves no room for group names in ipset's ${IPSET_NAME_MAX} characters`);
  const hash = createHash('sha1').update(group).digest('hex').slice(0, 6);
  return `${head}${clean.slice(0, room)}-${hash}`;
}

// ---------------------------------------------------------------------------------------------------------
// problems

type ListName = 'admin' | 'user';
const LIST_KEY: Record<ListName, string> = { admin: 'FIREWALL_ADMIN', user: 'FIREWALL_USER' };
/** C0 controls and DEL: a newline or CR would end an iptables-restore line. */
const CONTROL = /[\u0000-\u001f\u007f]/;

function contains(p: Ipv4Prefix, address: string): boolean {
  const mask = p.prefixLength === 0 ? 0 : (0xffffffff << (32 - p.prefixLength)) >>> 0;
  return ((parseIpv4(address) & mask) >>> 0) === parseIpv4(p.address);
}

function prefixProblem(p: Ipv4Prefix): string | undefined {
  if (!isIpv4(p.address) || !Number.isInteger(p.prefixLength) || p.prefixLength < 0 || p.prefixLength > 32) {
    return `${p.address}/${p.prefixLength} is not an IPv4 prefix`;
  }
  const mask = p.prefixLength === 0 ? 0 : (0xffffffff << (32 - p.prefixLength)) >>> 0;
  if (((parseIpv4(p.address) & mask) >>> 0) !== parseIpv4(p.address)) return `${p.address}/${p.prefixLength} has host bits set`;
  return undefined;
}

function portProblem(r: PortRange): string | undefined {
  const ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  return ok(r.first) && ok(r.last) && r.first <= r.last ? undefined : `${r.first}:${r.last} is not a port range 0..65535`;
}

/** avg as iptables computes it (10^6 * seconds per unit / rate), or undefined when the rate is unusable. */
function hashlimitAvg(h: HashLimit): bigint | undefined {
  const secs = UNIT_SECONDS[h.per];
  if (secs === undefined || !Number.isSafeInteger(h.rate) || h.rate <= 0) return undefined;
  return (SCALE * BigInt(secs)) / BigInt(h.rate);
}

function hashlimitProblems(h: HashLimit): [string, string][] {
  const out: [string, string][] = [];
  const secs = UNIT_SECONDS[h.per];
  const rateKey = h.mode === 'above' ? 'hashlimit-above' : 'hashlimit-upto';
  if (h.mode !== 'above' && h.mode !== 'upto') out.push([rateKey, `mode ${JSON.stringify(h.mode)} is neither 'above' nor 'upto'`]);
  const avg = hashlimitAvg(h);
  if (secs === undefined) {
    out.push([rateKey, `unit ${JSON.stringify(h.per)} is not second, minute, hour or day`]);
  } else if (!Number.isSafeInteger(h.rate) || h.rate <= 0) {
    out.push([rateKey, `rate ${h.rate}/${h.per} is not a positive whole number of packets (a rate of 0 would never let a packet through, or always match)`]);
  } else if (avg === 0n) {
    out.push([rateKey, `rate ${h.rate}/${h.per} is too fast for the kernel (at most 1000000 packets per second)`]);
  }
  const burst = h.burst ?? 5;
  if (!Number.isSafeInteger(burst) || burst < 1 || burst > 1_000_000) {
    out.push(['hashlimit-burst', `burst ${burst} is not a whole number 1..1000000`]);
  } else if (avg !== undefined && avg > 0n && avg * BigInt(burst) > MAX_AVG_TIMES_BURST) {
    out.push(['hashlimit-burst', `burst ${burst} at ${h.rate}/${h.per} overflows the kernel's token bucket: burst / rate must stay under about 31 hours`]);
  }
  if (h.expireMs !== undefined && (!Number.isSafeInteger(h.expireMs) || h.expireMs < 1 || h.expireMs > 0xffffffff)) {
    out.push(['hashlimit-htable-expire', `${h.expireMs} is not a whole number of milliseconds 1..4294967295`]);
  }
  if (!/^[A-Za-z0-9_-]{1,15}$/.test(h.name)) {
    out.push(['hashlimit-name', `${JSON.stringify(h.name)} must be 1 to 15 letters, digits, '-' or '_'`]);
  }
  for (const k of h.keys) {
    if (!(HASHLIMIT_MODE_ORDER as readonly string[]).includes(k)) out.push(['hashlimit-mode', `${JSON.stringify(k)} is not one of ${HASHLIMIT_MODE_ORDER.join(', ')}`]);
  }
  return out;
}

/** [key, reason] for everything in one rule that realmgw cannot render faithfully. */
function ruleProblems(host: DataplaneHost, rule: FirewallRule): [string, string][] {
  const out: [string, string][] = [];
  if (!['EGRESS', 'INGRESS', 'ANY'].includes(rule.direction)) out.push(['direction', `${JSON.stringify(rule.direction)} is not EGRESS, INGRESS or ANY`]);
  if (!['ACCEPT', 'DROP', 'REJECT'].includes(rule.target)) out.push(['target', `${JSON.stringify(rule.target)} is not ACCEPT, DROP or REJECT`]);
  const proto = rule.protocol;
  if (proto !== undefined && (!Number.isInteger(proto) || proto < 0 || proto > 255)) out.push(['protocol', `${proto} is not an IP protocol number 0..255`]);
  for (const key of ['src', 'dst'] as const) {
    const p = rule[key];
    const bad = p && prefixProblem(p);
    if (bad) out.push([key, bad]);
  }
  // A rule whose addresses exclude its own host's packets in every direction it names can never match.
  if (!out.some(([k]) => k === 'src' || k === 'dst')) {
    const egressPossible = rule.direction !== 'INGRESS' && (!rule.src || contains(rule.src, host.ipv4));
    const ingressPossible = rule.direction !== 'EGRESS' && (!rule.dst || contains(rule.dst, host.ipv4));
    if (!egressPossible && !ingressPossible && ['EGRESS', 'INGRESS', 'ANY'].includes(rule.direction)) {
      const key = rule.direction === 'INGRESS' ? 'dst' : 'src';
      const what =
        rule.direction === 'ANY'
          ? `neither src ${fmtPrefix(rule.src!)} nor dst ${fmtPrefix(rule.dst!)} contains`
          : `${key} ${fmtPrefix(rule[key]!)} of an ${rule.direction} rule does not contain`;
      out.push([key, `${what} the host's address ${host.ipv4}: the rule could never match`]);
    }
  }
  for (const key of ['sport', 'dport'] as const) {
    const r = rule[key];
    if (!r) continue;
    const bad = portProblem(r);
    if (bad) out.push([key, bad]);
    if (proto === undefined || !PORT_PROTOCOLS.has(proto)) out.push([key, `ports need protocol 6 (tcp), 17 (udp) or 132 (sctp), not ${proto ?? 'any'}`]);
  }
  if (rule.icmp) {
    const { type, code } = rule.icmp;
    if (proto !== 1) out.push(['icmp', `the icmp match needs protocol 1, not ${proto ?? 'any'}`]);
    if (!Number.isInteger(type) || type < 0 || type > 254) {
      out.push(['icmp', `ICMP type ${type} cannot be matched (iptables reads type 255 as "any type")`]);
    }
    if (code !== undefined && (!Number.isInteger(code) || code < 0 || code > 255)) out.push(['icmp', `ICMP code ${code} is not 0..255`]);
  }
  if (rule.stringMatch) {
    const { algo, bytes } = rule.stringMatch;
    if (algo !== 'bm' && algo !== 'kmp') out.push(['string', `algo ${JSON.stringify(algo)} is not bm or kmp`]);
    if (bytes.length === 0) out.push(['string', 'an empty pattern would match every packet']);
    if (bytes.length > STRING_PATTERN_MAX) out.push(['string', `the pattern has ${bytes.length} bytes; the kernel takes at most ${STRING_PATTERN_MAX}`]);
    if (bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) out.push(['string', 'the pattern holds values that are not bytes']);
  }
  if (rule.hashlimit) for (const [k, reason] of hashlimitProblems(rule.hashlimit)) out.push([`hashlimit.${k}`, reason]);
  if (rule.comment !== undefined) {
    if (CONTROL.test(rule.comment)) out.push(['comment', 'a comment may not hold control characters (line breaks, tabs, ...)']);
    if (Buffer.byteLength(rule.comment) > COMMENT_MAX_BYTES) out.push(['comment', `a comment holds at most ${COMMENT_MAX_BYTES} bytes`]);
  }
  return out;
}

/**
 * Rules realmgw cannot express faithfully in iptables, as check errors pointing at the rule's file and line:
 * matches the kernel would read differently (ICMP type 255, a hashlimit rate of 0 or faster than the kernel
 * counts, a bucket that overflows, an empty or over-long string pattern), rules that can never match because
 * their addresses exclude the host, and comments that could break the restore text. renderFirewall refuses a
 * model for which this returns anything. These checks cannot be left to a dry run: iptables-nft 1.8.9's
 * `iptables-restore --test` only parses, so what the kernel refuses shows up only when the (atomic) restore
 * is applied.
 */
export function firewallProblems(model: DataplaneModel): Problem[] {
  const problems: Problem[] = [];
  for (const host of model.hosts) {
    for (const list of ['admin', 'user'] as const) {
      for (const rule of host.firewall[list]) {
        for (const [key, reason] of ruleProblems(host, rule)) {
          const p: Problem = { file: rule.file, path: [`${host.id}.`, 'FIREWALL', LIST_KEY[list], ...key.split('.')], reason };
          if (rule.line) p.line = rule.line;
          problems.push(p);
        }
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// rendering

function fmtPrefix(p: Ipv4Prefix): string {
  return `${p.address}/${p.prefixLength}`;
}

/**
 * An argument as iptables-save writes it (xtables_save_string): bare when it is only letters, digits, '_' and
 * '-'; otherwise double-quoted with `"`, `\` and `'` backslash-escaped. iptables-restore drops the backslash
 * before any character inside quotes, so the text comes back as it was and can never end the argument.
 */
function saveString(text: string): string {
  if (CONTROL.test(text)) throw new Error(`control character in ${JSON.stringify(text)}`);
  if (/^[A-Za-z0-9_-]+$/.test(text)) return text;
  return `"${text.replace(/["\\']/g, '\\$&')}"`;
}

/** A string-match pattern as libxt_string prints it: always quoted, `"` and `\` escaped. */
function patternString(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

function portText(r: PortRange): string {
  return r.first === r.last ? String(r.first) : `${r.first}:${r.last}`;
}

const fullRange = (r: PortRange | undefined) => !r || (r.first === 0 && r.last === 65535);

/** A string match as iptables-save prints it: --string when every byte is printable ASCII, else --hex-string. */
function stringMatchText(bytes: number[], algo: string): string {
  const printable = bytes.every((b) => b >= 0x20 && b <= 0x7e);
  const pattern = printable
    ? `--string ${patternString(String.fromCharCode(...bytes))}`
    : `--hex-string "|${bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}|"`;
  return `-m string ${pattern} --algo ${algo}`;
}

/**
 * The rate the way iptables-save prints it (libxt_hashlimit print_rate): the longest unit in which the
 * per-packet interval `avg` divides closely enough, and that unit in milliseconds (iptables-save omits
 * --hashlimit-htable-expire when the expiry equals it).
 */
export function hashlimitRateText(h: Pick<HashLimit, 'rate' | 'per'>): { text: string; unitMs: number } {
  const avg = hashlimitAvg(h as HashLimit);
  if (avg === undefined || avg === 0n) throw new RangeError(`hashlimit rate ${h.rate}/${h.per} cannot be expressed`);
  let i = 1;
  for (; i < SAVE_UNITS.length; i++) {
    const mult = SAVE_UNITS[i][1];
    if (avg > mult || mult / avg < mult % avg) break;
  }
  const [name, mult] = SAVE_UNITS[i - 1];
  return { text: `${mult / avg}/${name}`, unitMs: Number((mult / SCALE) * 1000n) };
}

function hashlimitText(h: HashLimit, name: string): string {
  const { text, unitMs } = hashlimitRateText(h);
  // iptables' default expiry is one unit of the rate *as written*, which may differ from the unit it prints
  const expire = h.expireMs ?? UNIT_SECONDS[h.per] * 1000;
  const parts = [`-m hashlimit --hashlimit-${h.mode} ${text} --hashlimit-burst ${h.burst ?? 5}`];
  const mode = HASHLIMIT_MODE_ORDER.filter((k) => h.keys.includes(k));
  if (mode.length > 0) parts.push(`--hashlimit-mode ${mode.join(',')}`);
  parts.push(`--hashlimit-name ${name}`);
  if (expire !== unitMs) parts.push(`--hashlimit-htable-expire ${expire}`);
  return parts.join(' ');
}

interface HostPlan {
  host: DataplaneHost;
  chain: string;
  rules: FirewallRule[];
}

/** Unique kernel table names for every hashlimit rule (see the header). */
function hashlimitNames(plans: HostPlan[]): Map<FirewallRule, string> {
  const names = new Map<FirewallRule, string>();
  const used = new Set<string>();
  for (const { host, rules } of plans) {
    const suffix = `-${host.markIndex.toString(36)}`;
    for (const rule of rules) {
      if (!rule.hashlimit) continue;
      const base = rule.hashlimit.name;
      let name = base.slice(0, HASHLIMIT_NAME_MAX - suffix.length) + suffix;
      for (let k = 1; used.has(name); k++) {
        const tag = `_${k.toString(36)}`;
        name = base.slice(0, HASHLIMIT_NAME_MAX - suffix.length - tag.length) + tag + suffix;
      }
      used.add(name);
      names.set(rule, name);
    }
  }
  return names;
}

function ruleSpec(model: DataplaneModel, plan: HostPlan, rule: FirewallRule, hlName: string | undefined, rejectChain: string): string {
  const host = `${plan.host.ipv4}/32`;
  const lan = model.lanInterface;
  const parts: string[] = [];
  let src = rule.src && rule.src.prefixLength > 0 ? fmtPrefix(rule.src) : undefined;
  let dst = rule.dst && rule.dst.prefixLength > 0 ? fmtPrefix(rule.dst) : undefined;
  let iface: string | undefined;
  if (rule.direction === 'EGRESS') {
    src = host;
    iface = `-i ${lan}`;
  } else if (rule.direction === 'INGRESS') {
    dst = host;
    iface = `-o ${lan}`;
  }
  if (src) parts.push(`-s ${src}`);
  if (dst) parts.push(`-d ${dst}`);
  if (iface) parts.push(iface);
  const proto = rule.protocol || undefined; // 0 = any
  if (proto !== undefined) {
    parts.push(`-p ${PROTOCOL_NAMES[proto] ?? proto}`);
    const ports: string[] = [];
    if (!fullRange(rule.sport)) ports.push(`--sport ${portText(rule.sport!)}`);
    if (!fullRange(rule.dport)) ports.push(`--dport ${portText(rule.dport!)}`);
    if (ports.length > 0) parts.push(`-m ${PROTOCOL_NAMES[proto]}`, ...ports);
  }
  if (rule.icmp) parts.push(`-m icmp --icmp-type ${rule.icmp.type}${rule.icmp.code === undefined ? '' : `/${rule.icmp.code}`}`);
  if (rule.stringMatch) parts.push(stringMatchText(rule.stringMatch.bytes, rule.stringMatch.algo));
  if (rule.hashlimit) parts.push(hashlimitText(rule.hashlimit, hlName!));
  if (rule.comment) parts.push(`-m comment --comment ${saveString(rule.comment)}`);
  if (rule.target === 'REJECT') {
    if (proto === 6) parts.push('-j REJECT --reject-with tcp-reset');
    else if (proto !== undefined) parts.push('-j REJECT --reject-with icmp-port-unreachable');
    else parts.push(`-j ${rejectChain}`);
  } else {
    parts.push(`-j ${rule.target}`);
  }
  return parts.join(' ');
}

/** Model values that come from configuration rather than policy files: wrong ones are programming errors. */
function assertRenderable(model: DataplaneModel): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(model.prefix)) throw new RangeError(`prefix ${JSON.stringify(model.prefix)}: letters, digits, '_' and '-' only`);
  if (!/^[A-Za-z0-9_.:@+-]{1,15}$/.test(model.lanInterface)) throw new RangeError(`LAN interface ${JSON.stringify(model.lanInterface)} is not an interface name`);
  const seen = new Map<number, string>();
  for (const h of model.hosts) {
    if (!Number.isInteger(h.markIndex) || h.markIndex < 1) throw new RangeError(`host ${h.id}: markIndex ${h.markIndex} is not a positive integer`);
    if (!isIpv4(h.ipv4)) throw new RangeError(`host ${h.id}: ${JSON.stringify(h.ipv4)} is not an IPv4 address`);
    const other = seen.get(h.markIndex);
    if (other !== undefined) throw new RangeError(`hosts ${other} and ${h.id} share markIndex ${h.markIndex}`);
    seen.set(h.markIndex, h.id);
  }
}

/**
 * The subscriber firewall as an iptables-restore fragment for table filter (our chains only) and the jump to
 * insert into FORWARD. Throws if firewallProblems(model) reports anything: a rule is rendered faithfully or not
 * at all, never narrowed or widened.
 */
export function renderFirewall(model: DataplaneModel): FirewallRender {
  assertRenderable(model);
  const problems = firewallProblems(model);
  if (problems.length > 0) {
    throw new Error(`firewall rules cannot be rendered:\n${problems.map((p) => `${p.file}:${p.line ?? '?'}: ${p.reason}`).join('\n')}`);
  }
  const names = firewallChainNames(model);
  const plans: HostPlan[] = [...model.hosts]
    .sort((a, b) => a.markIndex - b.markIndex)
    .map((host) => ({ host, chain: names.host(host.markIndex), rules: [...host.firewall.admin, ...host.firewall.user] }))
    .filter((p) => p.rules.length > 0);
  const chains = [names.fw, names.reject, ...plans.map((p) => p.chain)];
  for (const name of chains) {
    if (name.length > CHAIN_NAME_MAX) throw new RangeError(`chain name ${name} is longer than ${CHAIN_NAME_MAX} characters`);
  }
  const hl = hashlimitNames(plans);
  const lan = model.lanInterface;

  const rules = new Map<string, string[]>(chains.map((c) => [c, []]));
  const add = (chain: string, spec: string) => rules.get(chain)!.push(`-A ${chain} ${spec}`);
  add(names.fw, '-m conntrack --ctstate RELATED -j ACCEPT');
  add(names.fw, '-m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT');
  for (const plan of plans) {
    const addr = `${plan.host.ipv4}/32`;
    if (plan.rules.some((r) => r.direction !== 'INGRESS')) add(names.fw, `-s ${addr} -i ${lan} -j ${plan.chain}`);
    if (plan.rules.some((r) => r.direction !== 'EGRESS')) add(names.fw, `-d ${addr} -o ${lan} -j ${plan.chain}`);
  }
  add(names.reject, '-p tcp -j REJECT --reject-with tcp-reset');
  add(names.reject, '-j REJECT --reject-with icmp-port-unreachable');
  for (const plan of plans) {
    for (const rule of plan.rules) add(plan.chain, ruleSpec(model, plan, rule, hl.get(rule), names.reject));
  }
  // iptables-save lists chains in strcmp order, each with its rules: so does the render
  chains.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = [...chains.map((c) => `:${c} - [0:0]`), ...chains.flatMap((c) => rules.get(c)!)];
  return { filter: lines.join('\n') + '\n', jumps: [`-j ${names.fw}`], chains };
}
