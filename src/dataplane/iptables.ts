/**
 * The part of realmgw's kernel state that has to live in iptables: the NFQUEUE rule (this kernel has no nft
 * `queue` statement, only the xt NFQUEUE target) and the firewall renderer's chains. realmgw owns every
 * chain named `<prefix>-*` and the jumps to them from builtin chains, nothing else. Changes go through
 * `iptables-restore --noflush`, one transaction per table, so other tools' rules are never rewritten.
 */
import { runChecked, type Runner } from './runner.js';
import { poolIpsetName } from './ipset.js';
import { CT_TAG_MASK, CT_TAG_SHIFT, HANDSHAKE_CHECK_MARK_OFFSET, NFQUEUE_PENDING_TAG, type DataplaneModel } from './model.js';

/** iptables chain names are at most 28 characters (XT_EXTENSION_MAXNAMELEN - 1). */
export const CHAIN_NAME_MAX = 28;

/**
 * What the firewall renderer (src/dataplane/firewall.ts, renderFirewall) hands to renderRuleset: the
 * iptables-restore lines of table filter for its own chains, and the rules that send traffic into them.
 */
export interface FirewallFragment {
  /**
   * Chain declarations (`:RGW-FW - [0:0]`) and rules (`-A RGW-FW -s 192.168.0.100/32 -j ACCEPT`), one per
   * line, no `*filter`/`COMMIT`; '#' comments and blank lines are ignored. Every chain declared or appended to
   * must be named `<prefix>-...` (and not `<prefix>-QUEUE`) and every rule's chain must be declared here.
   */
  filter: string;
  /**
   * Rule specifications for FORWARD (what follows `-A FORWARD `), e.g. `-j RGW-FW`, each jumping to a chain
   * declared in `filter`, written exactly as iptables-save prints them. KernelState keeps exactly one copy
   * of each at the top of FORWARD, in this order.
   */
  jumps: string[];
  /** The same for INPUT (traffic to the gateway itself). */
  inputJumps?: string[];
}

/** A rule in a builtin chain that jumps to one of our chains; installed once, at the top. */
export interface IptablesJump {
  table: 'mangle' | 'filter';
  chain: string;
  /** The rule specification exactly as iptables-save prints it (so leftovers compare equal). */
  rule: string;
}

export interface IptablesRender {
  /** `iptables-restore --noflush` input for table mangle (empty when we need nothing there). */
  mangle: string;
  /** Same for table filter. */
  filter: string;
  jumps: IptablesJump[];
  /** Every chain of ours, by table. */
  chains: { table: 'mangle' | 'filter'; chain: string }[];
}

export function queueChain(prefix: string): string {
  return `${prefix}-QUEUE`;
}

/**
 * The NFQUEUE jump's rule (nfqueue mode), in iptables-save's canonical spelling. Only a flow's very first
 * packet: a retransmitted SYN finds its conntrack entry CONFIRMED (and already NATed) and must follow it, not
 * be judged again against a reservation it already consumed.
 */
export function queueJumpRule(model: DataplaneModel): string {
  return `-m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m set --match-set ${poolIpsetName(model)} dst -j ${queueChain(model.prefix)}`;
}

export function handshakeChain(prefix: string): string {
  return `${prefix}-HANDSHAKE`;
}

/**
 * nfqueue mode: the handshake-completing ACK of a TCP connection DNATed with a pending tag (ruleset.ts) goes
 * to userspace once more, marked so it is told from a new flow's first packet; the reservation is consumed
 * there, by a client that proved its address.
 */
export function handshakeJumpRule(model: DataplaneModel): string {
  const mask = hex(CT_TAG_MASK);
  return `-p tcp -m tcp --tcp-flags SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -m connmark --mark ${hex((NFQUEUE_PENDING_TAG << CT_TAG_SHIFT) >>> 0)}/${mask} -m set --match-set ${poolIpsetName(model)} dst -j ${handshakeChain(model.prefix)}`;
}

/** iptables-save's spelling of a number in a mark match: lowercase hex, no padding. */
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function checkChainName(name: string, prefix: string, reserved: ReadonlySet<string>, where: string): void {
  if (!name.startsWith(`${prefix}-`)) throw new Error(`${where}: chain '${name}' is not realmgw's (must start with '${prefix}-')`);
  if (reserved.has(name)) throw new Error(`${where}: chain '${name}' is reserved for realmgw itself`);
  if (name.length > CHAIN_NAME_MAX || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`${where}: invalid chain name '${name}' (at most ${CHAIN_NAME_MAX} of A-Z a-z 0-9 _ . -)`);
}

/** Checks the firewall fragment only touches chains of ours; returns its chain names and lines. */
function parseFirewall(fw: FirewallFragment, prefix: string, reserved: ReadonlySet<string>): { chains: string[]; lines: string[] } {
  const chains: string[] = [];
  const rules: string[] = [];
  for (const raw of fw.filter.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let m: RegExpExecArray | null;
    if ((m = /^:(\S+)\s+-(\s+\[\d+:\d+\])?$/.exec(line))) {
      checkChainName(m[1], prefix, reserved, 'firewall');
      if (chains.includes(m[1])) throw new Error(`firewall: chain '${m[1]}' declared twice`);
      chains.push(m[1]);
    } else if ((m = /^-A\s+(\S+)\s/.exec(line))) {
      checkChainName(m[1], prefix, reserved, 'firewall');
      rules.push(line);
    } else {
      throw new Error(`firewall: only ':CHAIN - [0:0]' declarations and '-A CHAIN ...' rules are allowed, got: ${line}`);
    }
  }
  for (const line of rules) {
    const chain = line.split(/\s+/)[1];
    if (!chains.includes(chain)) throw new Error(`firewall: rule for undeclared chain '${chain}': ${line}`);
  }
  for (const j of [...fw.jumps, ...(fw.inputJumps ?? [])]) {
    const target = ruleTarget(j);
    if (/^\s*-[AIDRN]\s/.test(j) || /[\r\n]/.test(j)) throw new Error(`firewall: a jump is a rule specification without '-A CHAIN': ${j}`);
    if (!target || !chains.includes(target)) throw new Error(`firewall: jump '${j}' must go to a chain declared in the fragment`);
  }
  return { chains, lines: [...chains.map((c) => `:${c} - [0:0]`), ...rules] };
}

/** Our iptables chains and rules for a model (pure). */
export function renderIptables(model: DataplaneModel, firewall?: FirewallFragment): IptablesRender {
  const p = model.prefix;
  const out: IptablesRender = { mangle: '', filter: '', jumps: [], chains: [] };
  if (model.confirm === 'nfqueue') {
    const chain = queueChain(p);
    const target = `-j NFQUEUE --queue-num ${model.queue.num}${model.queue.bypass ? ' --queue-bypass' : ''}`;
    const handshake = handshakeChain(p);
    out.mangle = [
      '*mangle',
      `:${chain} - [0:0]`,
      `:${handshake} - [0:0]`,
      `-A ${chain} ${target}`,
      `-A ${handshake} -j MARK --set-xmark ${hex(model.markBase + HANDSHAKE_CHECK_MARK_OFFSET)}/0xffffffff`,
      `-A ${handshake} ${target}`,
      'COMMIT',
      '',
    ].join('\n');
    out.jumps.push({ table: 'mangle', chain: 'PREROUTING', rule: queueJumpRule(model) });
    out.jumps.push({ table: 'mangle', chain: 'PREROUTING', rule: handshakeJumpRule(model) });
    out.chains.push({ table: 'mangle', chain }, { table: 'mangle', chain: handshake });
  }
  if (firewall) {
    const fw = parseFirewall(firewall, p, new Set([queueChain(p), handshakeChain(p)]));
    if (fw.chains.length) out.filter = ['*filter', ...fw.lines, 'COMMIT', ''].join('\n');
    for (const j of firewall.jumps) out.jumps.push({ table: 'filter', chain: 'FORWARD', rule: j.trim() });
    for (const j of firewall.inputJumps ?? []) out.jumps.push({ table: 'filter', chain: 'INPUT', rule: j.trim() });
    for (const c of fw.chains) out.chains.push({ table: 'filter', chain: c });
  }
  return out;
}

/* ---------- what the kernel holds (iptables-save) ---------- */

export interface SavedTable {
  name: string;
  /** chain -> builtin? */
  chains: Map<string, boolean>;
  rules: { chain: string; spec: string }[];
}

/** Parses `iptables-save` output (all tables). */
export function parseIptablesSave(text: string): SavedTable[] {
  const tables: SavedTable[] = [];
  let t: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      t = { name: line.slice(1), chains: new Map(), rules: [] };
      tables.push(t);
    } else if (!t || line === 'COMMIT') {
      continue;
    } else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      t.chains.set(name, policy !== '-');
    } else {
      const m = /^-A\s+(\S+)\s+(.*)$/.exec(line);
      if (m) t.rules.push({ chain: m[1], spec: m[2] });
    }
  }
  return tables;
}

/** The chain a rule jumps or goes to, if any. */
export function ruleTarget(spec: string): string | undefined {
  return /(?:^|\s)-[jg]\s+(\S+)/.exec(spec)?.[1];
}

export interface IptablesPlan {
  /** One iptables-restore --noflush input, every table concerned in it (empty: nothing to do). */
  restore: string;
  /** What the plan removes, as the equivalent iptables commands (for logs and `realmgw cleanup`). */
  removes: string[];
  /** What it inserts. */
  inserts: string[];
}

/**
 * What to change so that the kernel holds exactly `desired` of ours (pass undefined to remove everything
 * of ours): declare (create or flush) and fill our chains, insert each jump once at the top of its builtin
 * chain, delete duplicate and stale jumps, flush and delete chains of ours that are no longer wanted.
 * Rules of other chains are never touched; a foreign user chain that jumps to ours makes the restore fail
 * (ours cannot be deleted while referenced), which is reported, not worked around.
 */
export function planIptables(saved: readonly SavedTable[], prefix: string, desired?: IptablesRender): IptablesPlan {
  const ours = (c: string) => c.startsWith(`${prefix}-`);
  const tableNames = new Set<string>();
  for (const t of saved) if ([...t.chains.keys()].some((c) => ours(c) && !t.chains.get(c))) tableNames.add(t.name);
  for (const c of desired?.chains ?? []) tableNames.add(c.table);
  const blocks: string[] = [];
  const removes: string[] = [];
  const inserts: string[] = [];
  for (const name of [...tableNames].sort()) {
    const t = saved.find((s) => s.name === name) ?? { name, chains: new Map<string, boolean>(), rules: [] };
    const wantChains = new Set((desired?.chains ?? []).filter((c) => c.table === name).map((c) => c.chain));
    const wantJumps = (desired?.jumps ?? []).filter((j) => j.table === name);
    const body = name === 'mangle' ? desired?.mangle : name === 'filter' ? desired?.filter : undefined;
    const lines: string[] = [`*${name}`];
    // our chains first (a ':' line creates the chain or flushes it), then their rules
    const bodyLines = (body ?? '').split('\n').filter((l) => l && l !== `*${name}` && l !== 'COMMIT');
    lines.push(...bodyLines.filter((l) => l.startsWith(':')));
    // jumps in builtin chains: delete stale and duplicate ones
    const jumpKey = (r: { chain: string; spec: string }): string | undefined => {
      if (!t.chains.get(r.chain)) return undefined; // not a builtin chain
      const target = ruleTarget(r.spec);
      return target && ours(target) ? `${r.chain} ${r.spec}` : undefined;
    };
    const copies = new Map<string, number>();
    for (const r of t.rules) {
      const key = jumpKey(r);
      if (key !== undefined) copies.set(key, (copies.get(key) ?? 0) + 1);
    }
    // a wanted jump present once stays where it is; duplicates all go (`-D` removes the first match, so
    // keeping one would keep the lowest) and the jump is inserted again at the top
    const kept = new Set<string>();
    for (const r of t.rules) {
      const key = jumpKey(r);
      if (key === undefined) continue;
      const wanted = wantJumps.some((j) => j.chain === r.chain && j.rule === r.spec);
      if (wanted && copies.get(key) === 1) {
        kept.add(key);
        continue;
      }
      lines.push(`-D ${r.chain} ${r.spec}`);
      removes.push(`iptables -t ${name} -D ${r.chain} ${r.spec}`);
    }
    // chains of ours that are not wanted: flush all, then delete (they may jump to each other)
    const stale = [...t.chains.entries()].filter(([c, builtin]) => !builtin && ours(c) && !wantChains.has(c)).map(([c]) => c);
    for (const c of stale) lines.push(`-F ${c}`);
    for (const c of stale) {
      lines.push(`-X ${c}`);
      removes.push(`iptables -t ${name} -X ${c}`);
    }
    lines.push(...bodyLines.filter((l) => !l.startsWith(':')));
    // each missing jump goes to the top of its chain; inserting in reverse keeps the given order
    for (const j of [...wantJumps].reverse()) {
      if (kept.has(`${j.chain} ${j.rule}`)) continue;
      lines.push(`-I ${j.chain} 1 ${j.rule}`);
      inserts.push(`iptables -t ${name} -I ${j.chain} 1 ${j.rule}`);
    }
    if (lines.length === 1) continue;
    lines.push('COMMIT');
    blocks.push(lines.join('\n'));
  }
  return { restore: blocks.length ? blocks.join('\n') + '\n' : '', removes, inserts };
}

/* ---------- effects ---------- */

/** Every table iptables-save shows (it creates none); undefined when iptables is not installed. */
export async function readIptables(runner: Runner): Promise<SavedTable[] | undefined> {
  const r = await runner.run('iptables-save', []);
  if (r.code === 127) return undefined;
  if (r.code !== 0) throw new Error(`iptables-save: ${r.stderr.trim()}`);
  return parseIptablesSave(r.stdout);
}

export async function applyIptablesPlan(runner: Runner, plan: IptablesPlan): Promise<void> {
  if (!plan.restore) return;
  await runChecked(runner, 'iptables-restore', ['--noflush'], { input: plan.restore });
}

/** `iptables -C` for a jump (its rule has no quoted arguments, so splitting on blanks is exact). */
export async function jumpPresent(runner: Runner, j: IptablesJump): Promise<boolean> {
  const r = await runner.run('iptables', ['-w', '-t', j.table, '-C', j.chain, ...j.rule.split(/\s+/)]);
  return r.code === 0;
}
