import { InputError, type Problem } from './errors.js';
import { loadConfig, type GatewayConfig } from './config/load-config.js';
import { loadZoneFolder, type Zone } from './zones/index.js';
import { crossCheck, loadPolicyFolder, type PolicySet } from './policy/index.js';
import { buildViews, type View } from './dns/authority/views.js';
import { canonicalName, isInZone } from './dns/names.js';
import { buildDataplaneModel } from './dataplane/build-model.js';
import { firewallProblems, renderFirewall } from './dataplane/firewall.js';
import { renderRuleset } from './dataplane/ruleset.js';
import { readCookieSecret } from './dns/proof/cookie-secrets.js';

/** Everything the gateway runs on, validated as a whole. */
export interface GatewayInputs {
  config: GatewayConfig;
  zones: Zone[];
  policies: PolicySet;
}

function collect<T>(problems: Problem[], load: () => T): T | undefined {
  try {
    return load();
  } catch (err) {
    if (err instanceof InputError) {
      problems.push(...err.problems);
      return undefined;
    }
    throw err;
  }
}

/**
 * Loads config, zones and policies and checks them against each other. Every problem in every file is
 * gathered before giving up, and nothing is started or applied: `check` and `run` share this one gate.
 */
export function loadInputs(configFile: string): GatewayInputs {
  const problems: Problem[] = [];
  const config = collect(problems, () => loadConfig(configFile));
  if (!config) throw new InputError(problems);
  const zones = collect(problems, () => loadZoneFolder(config.zonesDir));
  const policies = collect(problems, () => loadPolicyFolder(config.policiesDir));
  // Neither the reverse proxy nor nested-gateway resolution exists yet: refuse such names rather than answer
  // with an address that leads nowhere.
  if (zones && policies) problems.push(...crossCheck(policies, zones, { proxyAvailable: false, carriergradeAvailable: false }));
  if (problems.length) throw new InputError(problems);
  const inputs = { config, zones: zones!, policies: policies! };
  // Building the views catches what only shows once zones and policies meet (e.g. a name given two meanings).
  const views = collect(problems, () => buildViews(inputs.zones, [...inputs.policies.hosts.values()], { serviceAddress: config.pool.serviceAddress, addresses: config.poolAddresses, nameZone: config.pool.nameZone }));
  if (problems.length) throw new InputError(problems);
  if (views && config.workers && workerZone(config, views.wan) === undefined) {
    problems.push({
      file: config.file,
      path: ['workers', 'zone'],
      reason: config.workers.zone
        ? `${JSON.stringify(config.workers.zone)} is not one of the zones in ${config.zonesDir} (workers' names are published there)`
        : `no forward zone to publish workers' names in; set workers.zone`,
    });
  }
  if (views && config.pbra && aliasZone(config, views.wan) === undefined) {
    problems.push({
      file: config.file,
      path: ['pbra', 'cname', 'zone'],
      reason: config.pbra.cname.zone
        ? `${JSON.stringify(config.pbra.cname.zone)} is not inside one of the zones in ${config.zonesDir} (the one-time aliases must be answered by us)`
        : `no forward zone for the one-time aliases; set pbra.cname.zone`,
    });
  }
  const secretFile = config.pbra?.cookies.secretFile;
  if (secretFile !== undefined) {
    try {
      readCookieSecret(secretFile);
    } catch (err) {
      problems.push({ file: config.file, path: ['pbra', 'cookies', 'secretFile'], reason: (err as Error).message });
    }
  }
  if (problems.length) throw new InputError(problems);
  if (config.dataplane) problems.push(...dataplaneProblems(inputs));
  if (problems.length) throw new InputError(problems);
  return inputs;
}

/** The zone workers' names go in (workers.zone, else pool.nameZone, else the first forward zone), if we serve it. */
export function workerZone(config: GatewayConfig, wan: View): string | undefined {
  const origins = wan.tree.origins();
  const wanted = config.workers?.zone ?? config.pool.nameZone;
  if (wanted !== undefined) {
    const z = canonicalName(wanted);
    return origins.includes(z) ? z : undefined;
  }
  return origins.find((o) => !isInZone(o, 'in-addr.arpa') && !isInZone(o, 'ip6.arpa'));
}

/** Where the CNAME challenge's one-time aliases live (pbra.cname.zone, else pool.nameZone, else the first forward zone), if it is ours. */
export function aliasZone(config: GatewayConfig, wan: View): string | undefined {
  const wanted = config.pbra?.cname.zone ?? config.pool.nameZone;
  if (wanted === undefined) return wan.tree.origins().find((o) => !isInZone(o, 'in-addr.arpa') && !isInZone(o, 'ip6.arpa'));
  const z = canonicalName(wanted);
  return wan.tree.lookup(z).kind === 'none' ? undefined : z;
}

/**
 * What the kernel would refuse or what realmgw cannot express (a firewall rule, an ipset name clash), found
 * by rendering the ruleset without applying it: a policy never half-applies.
 */
function dataplaneProblems(inputs: GatewayInputs): Problem[] {
  const model = buildDataplaneModel(inputs);
  const problems = firewallProblems(model);
  if (problems.length) return problems;
  try {
    renderRuleset(model, { firewall: renderFirewall(model) });
  } catch (err) {
    return [{ file: inputs.config.file, path: ['dataplane'], reason: `the kernel ruleset cannot be rendered: ${(err as Error).message}` }];
  }
  return [];
}
