/**
 * `realmgw rules` (print the kernel state realmgw would install and dry-run its nft part) and
 * `realmgw cleanup` (remove everything realmgw owns in the kernel, and nothing else).
 */
import type { CompiledGateway } from '../compile/compiled-gateway.js';
import { DEFAULT_PREFIX, DEFAULT_TABLE } from '../compile/dataplane-model.js';
import { CommandRunner } from '../dataplane/command.js';
import { renderIpsetRestore } from '../dataplane/ipset.js';
import { KernelState, KernelStateError } from '../dataplane/kernel-state.js';
import { nftCheck } from '../dataplane/nft.js';
import { cleanupNftWorkers } from '../workers/backends/nft-backend.js';
import { DEFAULT_NFT_WORKERS_TABLE } from '../workers/backends/nft-render.js';
import { IpvsBackend } from '../workers/backends/ipvs-backend.js';
import type { RenderedRuleset } from '../dataplane/ruleset.js';
import { RealmgwError } from '../errors/realmgw-error.js';

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
export async function rulesCommand(compiled: CompiledGateway): Promise<number> {
  if (!compiled.kernel) {
    throw new RealmgwError('RGW_RULES_RENDER', { reason: `${compiled.config.file}: no 'dataplane' section; realmgw runs DNS only and installs nothing in the kernel` });
  }
  const { ruleset } = compiled.kernel;
  process.stdout.write(formatRuleset(ruleset));
  await nftCheck(new CommandRunner(), ruleset.nft);
  process.stderr.write('realmgw rules: nft -c accepted the ruleset (nothing was changed)\n');
  return 0;
}

/**
 * Workers' mappings: the nftables backend's own table always (it is found by name); the IPVS backend's services
 * only with a config, because they are recognised by the configured public address and lease range.
 */
async function cleanupWorkerMappings(compiled: CompiledGateway | undefined): Promise<string[]> {
  const removed: string[] = [];
  if (await cleanupNftWorkers(new CommandRunner())) removed.push(`nft table ip ${DEFAULT_NFT_WORKERS_TABLE}`);
  const w = compiled?.workers?.section;
  if (w?.backend === 'ipvs') {
    await new IpvsBackend({ publicAddress: w.publicAddress, privateAddress: w.privateAddress, privateNetwork: w.privateNetwork, ports: w.ports }).cleanup();
    removed.push(`IPVS services of realmgw on ${w.publicAddress} ports ${w.ports[0]}-${w.ports[1]}, chain RGW_IPVS_SNAT`);
  }
  return removed;
}

/** realmgw cleanup [--config FILE]: removes realmgw's table, chains, jumps and ipsets; prints what it removed. */
export async function cleanupCommand(compiled: CompiledGateway | undefined): Promise<number> {
  const { table, prefix } = compiled?.kernel?.model ?? { table: DEFAULT_TABLE, prefix: DEFAULT_PREFIX };
  try {
    const { removed } = await KernelState.cleanup({ table, prefix });
    removed.push(...(await cleanupWorkerMappings(compiled)));
    for (const line of removed) process.stdout.write(`removed: ${line}\n`);
    if (removed.length === 0) process.stdout.write(`nothing of realmgw's found (table ip ${table}, chains ${prefix}-*, ipsets ${prefix.toLowerCase()}-*)\n`);
    return 0;
  } catch (err) {
    if (err instanceof KernelStateError) for (const line of err.removed) process.stdout.write(`removed: ${line}\n`);
    throw err;
  }
}
