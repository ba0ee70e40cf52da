/**
 * The `pbra:` config section (and the Realm Gateway policy file it may name) into PbraSettings, with every
 * problem: config problems as key paths under `pbra` (the config loader adds the lines), policy-file problems
 * already carrying that file's name and lines. Paths in the section are relative to the config file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Problem } from '../errors.js';
import { parseCidr } from '../util/cidr.js';
import { groupProblems, tierProblems, type KeyProblem } from './checks.js';
import { DEMO_TIERS, type Cidr, type GroupSpec, type PbraSettings } from './model.js';
import { parseRgwPolicy } from './rgw-policy.js';
import type { PbraSection } from './schema.js';

/** Keys that Realm Gateway's policy file decides: given inline next to rgwPolicy they are a conflict. */
const RGW_KEYS = ['groups', 'tiers', 'proofs', 'logUntrusted'] as const;

export const DEFAULT_PROOFS: PbraSettings['proofs'] = { udp: ['cookie', 'cname', 'tcp'], tcp: [], followUpOverUdp: true };

export interface ResolvedPbra {
  settings?: PbraSettings;
  /** Paths relative to the `pbra` section. */
  keyProblems: KeyProblem[];
  /** Problems inside the Realm Gateway policy file. */
  fileProblems: Problem[];
}

function duplicates(list: readonly string[], at: (string | number)[]): KeyProblem[] {
  return list.flatMap((v, i) => (list.indexOf(v) < i ? [{ path: [...at, i], reason: `${JSON.stringify(v)} is listed twice` }] : []));
}

function inlineGroups(section: PbraSection): GroupSpec[] {
  return (section.groups ?? []).map((g, i) => ({
    name: g.name ?? `group-${i}`,
    nodes: g.nodes.map((n) => parseCidr(n) as Cidr), // the schema already refused anything else
    sla: g.sla,
    initialReputation: g.initialReputation,
  }));
}

export function resolvePbraSection(section: PbraSection, configFile: string, readText: (file: string) => string = (f) => readFileSync(f, 'utf8')): ResolvedPbra {
  const base = path.dirname(configFile);
  const keyProblems: KeyProblem[] = [];
  const fileProblems: Problem[] = [];
  let fromFile: ReturnType<typeof parseRgwPolicy>['policy'];
  let rgwFile: string | undefined;
  if (section.rgwPolicy !== undefined) {
    rgwFile = path.resolve(base, section.rgwPolicy);
    for (const key of RGW_KEYS) {
      if (section[key] !== undefined) keyProblems.push({ path: [key], reason: `is set by rgwPolicy (${section.rgwPolicy}); give it in one place only` });
    }
    let text: string | undefined;
    try {
      text = readText(rgwFile);
    } catch (err) {
      keyProblems.push({ path: ['rgwPolicy'], reason: `cannot read ${rgwFile}: ${(err as Error).message}` });
    }
    if (text !== undefined) {
      const parsed = parseRgwPolicy(text, rgwFile);
      fileProblems.push(...parsed.problems);
      fromFile = parsed.policy;
    }
  } else {
    const proofs = section.proofs;
    if (proofs?.udp) keyProblems.push(...duplicates(proofs.udp, ['proofs', 'udp']));
    if (proofs?.tcp) keyProblems.push(...duplicates(proofs.tcp, ['proofs', 'tcp']));
    if (section.tiers) {
      for (const p of tierProblems(section.tiers, { loadMin: 'loadMin', loadMax: 'loadMax', fqdnNew: 'fqdnNew' })) keyProblems.push({ path: ['tiers', ...p.path], reason: p.reason });
    }
    for (const p of groupProblems(inlineGroups(section), 'nodes')) keyProblems.push({ path: ['groups', ...p.path], reason: p.reason });
  }
  if (keyProblems.length > 0 || fileProblems.length > 0) return { keyProblems, fileProblems };

  const settings: PbraSettings = {
    proofs: fromFile?.proofs ?? {
      udp: [...(section.proofs?.udp ?? DEFAULT_PROOFS.udp)],
      tcp: [...(section.proofs?.tcp ?? DEFAULT_PROOFS.tcp)],
      followUpOverUdp: section.proofs?.followUpOverUdp ?? DEFAULT_PROOFS.followUpOverUdp,
    },
    logUntrusted: fromFile?.logUntrusted ?? section.logUntrusted ?? false,
    cname: { ...section.cname },
    cookies: { ...section.cookies, ...(section.cookies.secretFile ? { secretFile: path.resolve(base, section.cookies.secretFile) } : {}) },
    periodMs: section.periodMs,
    groups: fromFile?.groups ?? inlineGroups(section),
    tiers: fromFile?.tiers ?? (section.tiers ? section.tiers.map((t) => ({ ...t })) : DEMO_TIERS.map((t) => ({ ...t }))),
    requesterBudget: { ...section.requesterBudget },
    ecsPrefixIpv4: section.ecsPrefixIpv4,
    maxTrackedRequesters: section.maxTrackedRequesters,
    maxTrackedResolvers: section.maxTrackedResolvers,
  };
  if (rgwFile !== undefined) settings.rgwPolicy = rgwFile;
  if (fromFile?.circularPoolMax !== undefined) settings.circularPoolMax = fromFile.circularPoolMax;
  return { settings, keyProblems, fileProblems };
}
