/**
 * `realmgw rules` (print the kernel state realmgw would install and dry-run its nft part) and
 * `realmgw cleanup` (remove everything realmgw owns in the kernel, and nothing else).
 */
import type { GatewayInputs } from '../inputs.js';
import { DEFAULT_PREFIX, DEFAULT_TABLE, buildDataplaneModel } from '../dataplane/build-model.js';
import { CommandRunner } from '../dataplane/command.js';
import { renderFirewall } from '../dataplane/firewall.js';
import { renderIpsetRestore } from '../dataplane/ipset.js';
import { KernelState, KernelStateError } from '../dataplane/kernel-state.js';
import { nftCheck } from '../dataplane/nft.js';
import { renderRuleset, type RenderedRuleset } from '../dataplane/ruleset.js';

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The rendered state as one text: what `nft -f`, `iptables-restore --noflush`, the jumps and `ipset restore` get. */
export function formatRuleset(r: RenderedRuleset): string {
  const ipt = r.iptables.mangle + r.iptables.filter;
  const ipsets = renderIpsetRestore(r.ipsets);
  return [
    '# ==== nft -f - ====',
    r.nft.trimEnd(),
    '',
    '# ==== iptables-restore --noflush (realmgw chains only) ====',
    ipt ? ipt.trimEnd() : '# (none)',
    '',
    '# ==== jumps from builtin chains (each kept exactly once, at the top) ====',
    ...(r.jumps.length ? r.jumps.map((j) => `iptables -t ${j.table} -I ${j.chain} 1 ${j.rule}`) : ['# (none)']),
    '',
    '# ==== ipset restore ====',
    ipsets ? ipsets.trimEnd() : '# (none)',
    '',
  ].join('\n');
}

/** realmgw rules --config FILE: prints the state, validates the nft part with `nft -c`; changes nothing. */
export async function rulesCommand(inputs: GatewayInputs): Promise<number> {
  let rendered: RenderedRuleset;
  try {
    const model = buildDataplaneModel(inputs);
    rendered = renderRuleset(model, { firewall: renderFirewall(model) });
  } catch (err) {
    process.stderr.write(`realmgw rules: ${errText(err)}\n`);
    return 1;
  }
  process.stdout.write(formatRuleset(rendered));
  try {
    await nftCheck(new CommandRunner(), rendered.nft);
  } catch (err) {
    process.stderr.write(`realmgw rules: ${errText(err)}\n`);
    return 1;
  }
  process.stderr.write('realmgw rules: nft -c accepted the ruleset (nothing was changed)\n');
  return 0;
}

/** realmgw cleanup [--config FILE]: removes realmgw's table, chains, jumps and ipsets; prints what it removed. */
export async function cleanupCommand(inputs: GatewayInputs | undefined): Promise<number> {
  let table = DEFAULT_TABLE;
  let prefix = DEFAULT_PREFIX;
  if (inputs?.config.dataplane) {
    const model = buildDataplaneModel(inputs);
    table = model.table;
    prefix = model.prefix;
  }
  try {
    const { removed } = await KernelState.cleanup({ table, prefix });
    for (const line of removed) process.stdout.write(`removed: ${line}\n`);
    if (removed.length === 0) process.stdout.write(`nothing of realmgw's found (table ip ${table}, chains ${prefix}-*, ipsets ${prefix.toLowerCase()}-*)\n`);
    return 0;
  } catch (err) {
    if (err instanceof KernelStateError) for (const line of err.removed) process.stdout.write(`removed: ${line}\n`);
    process.stderr.write(`realmgw cleanup: ${errText(err)}\n`);
    return 1;
  }
}
