/**
 * The one gate between the files and everything that acts on them: `compile(configFile)` loads config, zones
 * and policies, checks them against each other, builds the DNS views, the data-plane model and the rendered
 * kernel state, and returns them together (compiled-gateway.ts). Every problem in every file is gathered
 * before giving up, and nothing is started or applied: `check`, `rules`, `cleanup` and `run` consume the same
 * result, so what `rules` prints is what `run` installs.
 */
import { InputError, type Problem } from '../errors.js';
import { loadConfig, workersConfigOf, type GatewayConfig } from '../config/load-config.js';
import { loadZoneFolder } from '../zones/index.js';
import { crossCheck, loadPolicyFolder, type PolicySet } from '../policy/index.js';
import { buildViews, type PublishedForward, type View } from '../dns/authority/views.js';
import { canonicalName, isInZone } from '../dns/names.js';
import { formatIpv4 } from '../util/ipv4.js';
import type { Zone } from '../zones/index.js';
import { readCookieSecret } from '../dns/proof/cookie-secrets.js';
import { firewallProblems, renderFirewall } from '../dataplane/firewall.js';
import { renderRuleset } from '../dataplane/ruleset.js';
import type { CompiledGateway, CompiledKernel, CompiledPbra, CompiledProxy, CompiledWorkers } from './compiled-gateway.js';
import { unknownProxyProtocolNames, type ProxiedName } from '../proxy/targets.js';
import { buildDataplaneModel } from './dataplane-model.js';
import { aliasZone, workerZone } from './publish-zones.js';

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

/** Throws an InputError listing every problem found in the files; changes nothing outside the process. */
export function compile(configFile: string): CompiledGateway {
  const problems: Problem[] = [];
  const config = collect(problems, () => loadConfig(configFile));
  if (!config) throw new InputError(problems);
  const zones = collect(problems, () => loadZoneFolder(config.zonesDir));
  const policies = collect(problems, () => loadPolicyFolder(config.policiesDir));
  // proxy_required names need the relay (`proxy:`); nested-gateway resolution does not exist yet: refuse such
  // names rather than answer with an address that leads nowhere.
  if (zones && policies) problems.push(...crossCheck(policies, zones, { proxyAvailable: config.proxy !== undefined, carriergradeAvailable: false }));
  if (!zones || !policies || problems.length) throw new InputError(problems);
  // Building the views catches what only shows once zones and policies meet (e.g. a name given two meanings).
  const naming = { serviceAddress: config.pool.serviceAddress, addresses: config.poolAddresses, nameZone: config.pool.nameZone };
  problems.push(...forwardNameProblems(config, zones, policies));
  if (problems.length) throw new InputError(problems);
  const views = collect(problems, () => buildViews(zones, [...policies.hosts.values()], naming, publishedForwards(config), config.dns.wan.serviceFormats === 'realm-gateway'));
  if (!views) throw new InputError(problems);
  const workers = compileWorkers(config, views.wan, problems);
  const pbra = compilePbra(config, views.wan, problems);
  const proxy = compileProxy(config, policies, problems);
  if (problems.length) throw new InputError(problems);
  const kernel = config.dataplane ? compileKernel(config, policies, problems) : undefined;
  if (problems.length) throw new InputError(problems);
  return { config, zones, policies, views, kernel, workers, pbra, ...(proxy ? { proxy } : {}) };
}

/** The forwards' `dns:` names as the WAN view publishes them. */
function publishedForwards(config: GatewayConfig): PublishedForward[] {
  return config.forwards.flatMap((f) => {
    if (f.dns === undefined) return [];
    const ports: number[] = [];
    for (let p = f.first; p <= f.last; p++) ports.push(p);
    return [{ name: f.dns, address: formatIpv4(f.address), protocol: f.protocol, ports }];
  });
}

/**
 * A forward's `dns:` name must lie in one of our forward zones (we answer for it) and must not be a name the
 * zones or policies already give a meaning (a host, a service name).
 */
function forwardNameProblems(config: GatewayConfig, zones: Zone[], policies: PolicySet): Problem[] {
  const problems: Problem[] = [];
  const origins = zones.map((z) => canonicalName(z.origin)).filter((o) => !isInZone(o, 'in-addr.arpa') && !isInZone(o, 'ip6.arpa'));
  const taken = new Set<string>();
  for (const z of zones) for (const r of z.records) taken.add(canonicalName(r.name));
  for (const h of policies.hosts.values()) {
    for (const n of [h.id, ...h.fqdns, ...h.services.map((s) => s.fqdn)]) taken.add(canonicalName(n));
  }
  config.forwards.forEach((f, i) => {
    if (f.dns === undefined) return;
    const name = canonicalName(f.dns);
    const at = { file: config.file, path: ['forwards', 'rules', i, 'dns'] };
    if (!origins.some((o) => isInZone(name, o))) problems.push({ ...at, reason: `${JSON.stringify(f.dns)} is not inside one of the zones in ${config.zonesDir} (its A and SRV must be answered by us)` });
    else if (taken.has(name)) problems.push({ ...at, reason: `${JSON.stringify(f.dns)} already has a meaning in the zones or policies` });
  });
  return problems;
}

function compileProxy(config: GatewayConfig, policies: PolicySet, problems: Problem[]): CompiledProxy | undefined {
  const section = config.proxy;
  if (!section) return undefined;
  const names: ProxiedName[] = [];
  for (const host of policies.hosts.values()) {
    for (const s of host.services) if (s.proxyRequired) names.push({ fqdn: s.fqdn, hostId: host.id, address: host.ipv4 });
  }
  unknownProxyProtocolNames(names, section.proxyProtocol).forEach((n) => {
    const i = section.proxyProtocol.indexOf(n);
    problems.push({ file: config.file, path: ['proxy', 'proxyProtocol', i], reason: `${JSON.stringify(n)} is neither a proxy_required name nor a host with one` });
  });
  if (section.http === section.tls && section.http !== 0) problems.push({ file: config.file, path: ['proxy', 'tls'], reason: `the HTTP and TLS relays cannot share port ${section.http}` });
  return { section, serviceAddress: config.pool.serviceAddress, names };
}

function compileWorkers(config: GatewayConfig, wan: View, problems: Problem[]): CompiledWorkers | undefined {
  const section = config.workers;
  if (!section) return undefined;
  const zone = workerZone(config, wan);
  if (zone === undefined) {
    problems.push({
      file: config.file,
      path: ['workers', 'zone'],
      reason: section.zone
        ? `${JSON.stringify(section.zone)} is not one of the zones in ${config.zonesDir} (workers' names are published there)`
        : `no forward zone to publish workers' names in; set workers.zone`,
    });
    return undefined;
  }
  return { section, registry: workersConfigOf(section), zone };
}

function compilePbra(config: GatewayConfig, wan: View, problems: Problem[]): CompiledPbra | undefined {
  const settings = config.pbra;
  if (!settings) return undefined;
  const zone = aliasZone(config, wan);
  if (zone === undefined) {
    problems.push({
      file: config.file,
      path: ['pbra', 'cname', 'zone'],
      reason: settings.cname.zone
        ? `${JSON.stringify(settings.cname.zone)} is not inside one of the zones in ${config.zonesDir} (the one-time aliases must be answered by us)`
        : `no forward zone for the one-time aliases; set pbra.cname.zone`,
    });
  }
  let cookieSecret: Buffer | undefined;
  const secretFile = settings.cookies.secretFile;
  if (secretFile !== undefined) {
    try {
      cookieSecret = readCookieSecret(secretFile);
    } catch (err) {
      problems.push({ file: config.file, path: ['pbra', 'cookies', 'secretFile'], reason: (err as Error).message });
    }
  }
  return zone === undefined ? undefined : { settings, aliasZone: zone, cookieSecret };
}

/**
 * What the kernel would refuse or what realmgw cannot express (a firewall rule, an ipset name clash) shows
 * when the ruleset is rendered: a policy never half-applies.
 */
function compileKernel(config: GatewayConfig, policies: PolicySet, problems: Problem[]): CompiledKernel | undefined {
  const model = buildDataplaneModel({ config, policies });
  const firewall = firewallProblems(model);
  if (firewall.length) {
    problems.push(...firewall);
    return undefined;
  }
  try {
    return { model, ruleset: renderRuleset(model, { firewall: renderFirewall(model) }) };
  } catch (err) {
    problems.push({ file: config.file, path: ['dataplane'], reason: `the kernel ruleset cannot be rendered: ${(err as Error).message}` });
    return undefined;
  }
}
