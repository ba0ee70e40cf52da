/**
 * FULL-NAT for IPVS-forwarded traffic. Masquerade forwarding rewrites only the destination, so a worker would
 * answer the client directly through its own default route; SNAT to the gateway's private address makes the
 * worker answer the gateway, which undoes both translations. IPVS packets pass the nat table only with
 * `net.ipv4.vs.conntrack=1`, and only iptables (xt_ipvs) can tell IPVS-forwarded packets apart, so this lives
 * in one iptables chain of ours in table nat, reached by one jump from POSTROUTING.
 *
 * The chain name has no '-': the data plane owns every `<prefix>-*` chain and removes those it does not want,
 * so a hyphenless name can never be mistaken for one of its chains. Pure: renders iptables-restore input.
 */
import { type SavedTable, ruleTarget } from '../../dataplane/iptables.js';
import type { Drift } from '../../dataplane/kernel-verify.js';
import type { IpvsScope } from './ipvs-plan.js';

export const SNAT_CHAIN = 'RGW_IPVS_SNAT';

/**
 * Only packets IPVS forwards for a service on the public address within the lease range, in the client's
 * direction, on their way into the private network. The port range keeps a bystander's services on other
 * ports of the same address out of it.
 */
export function snatRule(scope: IpvsScope): string {
  return [
    `-d ${scope.privateNetwork}`,
    `-m ipvs --vaddr ${scope.publicAddress}/32 --vdir ORIGINAL --vmethod MASQ`,
    `-m conntrack --ctorigdstport ${scope.ports[0]}:${scope.ports[1]}`,
    `-j SNAT --to-source ${scope.privateAddress}`,
  ].join(' ');
}

/** Rules of builtin nat chains that jump to our chain (a killed run may have left several). */
function ourJumps(saved: readonly SavedTable[]): { chain: string; spec: string }[] {
  const nat = saved.find((t) => t.name === 'nat');
  if (!nat) return [];
  return nat.rules.filter((r) => nat.chains.get(r.chain) === true && ruleTarget(r.spec) === SNAT_CHAIN);
}

function chainExists(saved: readonly SavedTable[]): boolean {
  return saved.find((t) => t.name === 'nat')?.chains.has(SNAT_CHAIN) ?? false;
}

/**
 * One `iptables-restore --noflush` transaction that leaves exactly our chain with its one rule and one jump
 * at the top of POSTROUTING, whatever a killed run left. Declaring the chain creates or flushes it.
 */
export function renderSnatInstall(saved: readonly SavedTable[], scope: IpvsScope): string {
  return [
    '*nat',
    `:${SNAT_CHAIN} - [0:0]`,
    ...ourJumps(saved).map((j) => `-D ${j.chain} ${j.spec}`),
    `-A ${SNAT_CHAIN} ${snatRule(scope)}`,
    `-I POSTROUTING 1 -j ${SNAT_CHAIN}`,
    'COMMIT',
    '',
  ].join('\n');
}

/** The transaction that removes our chain and every jump to it; empty when there is nothing of ours. */
export function renderSnatRemoval(saved: readonly SavedTable[]): string {
  const jumps = ourJumps(saved);
  if (!chainExists(saved) && jumps.length === 0) return '';
  const lines = ['*nat', ...jumps.map((j) => `-D ${j.chain} ${j.spec}`)];
  if (chainExists(saved)) lines.push(`-F ${SNAT_CHAIN}`, `-X ${SNAT_CHAIN}`);
  return [...lines, 'COMMIT', ''].join('\n');
}

/** Drift: our chain with exactly its one rule, and exactly one jump to it from POSTROUTING. */
export function snatDrift(saved: readonly SavedTable[], scope: IpvsScope): Drift[] {
  const out: Drift[] = [];
  const nat = saved.find((t) => t.name === 'nat');
  if (!chainExists(saved)) out.push({ part: 'workers', what: `iptables chain nat/${SNAT_CHAIN} is missing` });
  else if (nat!.rules.filter((r) => r.chain === SNAT_CHAIN).map((r) => r.spec).join('\n') !== snatRule(scope)) out.push({ part: 'workers', what: `iptables chain nat/${SNAT_CHAIN}: rules differ from what was installed` });
  const jumps = ourJumps(saved).filter((j) => j.chain === 'POSTROUTING' && j.spec === `-j ${SNAT_CHAIN}`).length;
  if (jumps !== 1 || ourJumps(saved).length !== jumps) out.push({ part: 'workers', what: `iptables -t nat jumps to ${SNAT_CHAIN}: ${ourJumps(saved).length}, expected exactly one from POSTROUTING` });
  return out;
}
