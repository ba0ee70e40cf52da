import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import type { Problem } from '../errors.js';
import { InputError } from '../errors.js';
import { expandIpv4Range, parseIpv4 } from '../util/ipv4.js';
import { type CompiledConfig, type WorkersConfig, addressRefusal, checkWorkersConfig, compileConfig } from '../workers/config.js';
import { type PortRange, parseIpLocalPortRange, validatePortRange } from '../workers/port-range.js';
import { configSchema, type GatewayConfigData, type WorkersSection } from './schema.js';
import { resolvePbraSection } from '../pbra/settings.js';
import type { PbraSettings } from '../pbra/model.js';
import { resolveForwards, type StaticForward } from '../forwards/model.js';
import { forwardsProblems } from './forwards-check.js';
import { metricsProblems } from './metrics-check.js';

export interface GatewayConfig extends Omit<GatewayConfigData, 'pbra' | 'forwards'> {
  /** The static forwards, checked and resolved (empty without a `forwards:` section). */
  forwards: StaticForward[];
  /** PBRA settings with defaults applied and any Realm Gateway policy file read; absent = PBRA off. */
  pbra?: PbraSettings;
  /** Absolute path of the file the config came from. */
  file: string;
  zonesDir: string;
  policiesDir: string;
  /** Pool addresses expanded and de-duplicated, as u32. */
  poolAddresses: number[];
}

/** Line of the YAML node at `keyPath`, walking up to the nearest existing parent when the key is missing. */
export function lineOf(doc: Document, lines: LineCounter, keyPath: (string | number)[]): number | undefined {
  for (let n = keyPath.length; n >= 0; n--) {
    const node = doc.getIn(keyPath.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Parses a YAML text; syntax errors come back as problems with their line. */
export function parseYaml(text: string, file: string): { doc: Document; lines: LineCounter; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: Problem[] = doc.errors.map((e) => ({
    file,
    path: [],
    line: e.linePos?.[0]?.line,
    reason: `YAML syntax: ${e.message.split('\n')[0]}`,
  }));
  return { doc, lines, problems };
}

/**
 * The document as plain data. yaml refuses to expand more aliases than its maxAliasCount (an "alias bomb", a
 * few lines that expand to gigabytes); that refusal is a problem of the file, reported like any other.
 */
export function yamlData(doc: Document, file: string): unknown {
  try {
    return doc.toJS() ?? {};
  } catch (err) {
    throw new InputError([{ file, path: [], reason: `YAML: ${(err as Error).message}` }]);
  }
}

/** What the config is checked against on this host. */
export interface HostFacts {
  /** net.ipv4.ip_local_port_range of the namespace the gateway runs in. */
  ephemeral: PortRange;
}

/** Linux's default, for a host whose /proc cannot be read. */
const DEFAULT_EPHEMERAL: PortRange = [32768, 60999];

export function readHostFacts(): HostFacts {
  try {
    return { ephemeral: parseIpLocalPortRange(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')) };
  } catch {
    return { ephemeral: DEFAULT_EPHEMERAL };
  }
}

/** A zod schema's issues as problems with key path and line (any YAML file validated by a strict schema). */
export function schemaProblems(issues: readonly z.core.$ZodIssue[], doc: Document, lines: LineCounter, abs: string): Problem[] {
  return issues.map((issue) => {
    const keyPath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    // zod reports unknown keys on the parent; point at the key itself so the line is the offending one.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const at = keys.length === 1 ? [...keyPath, keys[0]] : keyPath;
    const reason = /received undefined$/.test(issue.message) ? `required key is missing (${issue.message.replace(/^Invalid input: /, '')})` : issue.message;
    return { file: abs, path: at, line: lineOf(doc, lines, at), reason };
  });
}

/** A config file's absolute path and text; an unreadable file is an InputError naming it. */
export function readConfigFile(file: string): { abs: string; text: string } {
  const abs = path.resolve(file);
  try {
    return { abs, text: readFileSync(abs, 'utf8') };
  } catch (err) {
    throw new InputError([{ file: abs, path: [], reason: `cannot read: ${(err as Error).message}` }]);
  }
}

export function loadConfig(file: string): GatewayConfig {
  const { abs, text } = readConfigFile(file);
  return parseConfigText(text, abs, readHostFacts());
}

export function parseConfigText(text: string, abs: string, host: HostFacts = readHostFacts()): GatewayConfig {
  const { doc, lines, problems } = parseYaml(text, abs);
  if (problems.length) throw new InputError(problems);
  const parsed = configSchema.safeParse(yamlData(doc, abs));
  if (!parsed.success) throw new InputError(schemaProblems(parsed.error.issues, doc, lines, abs));
  const data = parsed.data;
  const base = path.dirname(abs);
  const extra: Problem[] = [];
  const seen = new Set<number>();
  const poolAddresses: number[] = [];
  data.pool.addresses.forEach((spec, i) => {
    try {
      for (const a of expandIpv4Range(spec)) {
        if (seen.has(a)) continue;
        seen.add(a);
        poolAddresses.push(a);
      }
    } catch (err) {
      const at = ['pool', 'addresses', i];
      extra.push({ file: abs, path: at, line: lineOf(doc, lines, at), reason: (err as Error).message });
    }
  });
  if (seen.has(parseIpv4(data.pool.serviceAddress))) {
    const at = ['pool', 'serviceAddress'];
    extra.push({ file: abs, path: at, line: lineOf(doc, lines, at), reason: 'the service address must not also be a pool address' });
  }
  for (const p of [...workersProblems(data, host), ...stunProblems(data)]) extra.push({ file: abs, path: p.path, line: lineOf(doc, lines, p.path), reason: p.reason });
  for (const p of forwardsProblems(data, seen)) extra.push({ file: abs, path: p.path, line: lineOf(doc, lines, p.path), reason: p.reason });
  for (const p of metricsProblems(data, seen)) extra.push({ file: abs, path: p.path, line: lineOf(doc, lines, p.path), reason: p.reason });
  const pbra = data.pbra && resolvePbraSection(data.pbra, abs);
  for (const p of pbra?.keyProblems ?? []) extra.push({ file: abs, path: ['pbra', ...p.path], line: lineOf(doc, lines, ['pbra', ...p.path]), reason: p.reason });
  extra.push(...(pbra?.fileProblems ?? []));
  if (extra.length) throw new InputError(extra);
  if (data.workers) data.workers.stateFile = path.resolve(base, data.workers.stateFile);
  const { pbra: _section, forwards, ...rest } = data;
  return {
    ...rest,
    forwards: forwards ? resolveForwards(forwards, data.pool.serviceAddress) : [],
    ...(pbra?.settings ? { pbra: pbra.settings } : {}),
    file: abs,
    zonesDir: path.resolve(base, data.zones),
    policiesDir: path.resolve(base, data.policies),
    poolAddresses,
  };
}

interface KeyProblem {
  path: (string | number)[];
  reason: string;
}

/** The registry's view of the `workers:` section (the gateway's private address is never a mapping target). */
export function workersConfigOf(section: WorkersSection): WorkersConfig {
  return {
    ports: section.ports,
    privateNetwork: section.privateNetwork,
    excludedAddresses: [section.privateAddress],
    quota: section.quota,
    coolDownMs: section.coolDownMs,
    heartbeatTimeoutMs: section.heartbeatTimeoutMs,
    workers: section.workers.map((w) => (w.quota === undefined ? { name: w.name, secretHash: w.secretHash } : { ...w })),
  };
}

/**
 * Problems of the `workers:` section beyond its shape: the registry's own checks, the port range against the
 * host's ephemeral range and the gateway's listeners on the public address, and where the addresses lie.
 */
export function workersProblems(data: GatewayConfigData, host: HostFacts): KeyProblem[] {
  const w = data.workers;
  if (!w) return [];
  const at = (...p: (string | number)[]) => ['workers', ...p];
  const problems: KeyProblem[] = [];
  const registryProblems = checkWorkersConfig(workersConfigOf(w));
  for (const p of registryProblems) {
    // excludedAddresses is derived from privateAddress.
    const keyPath = p.path[0] === 'excludedAddresses' ? ['privateAddress'] : p.path;
    problems.push({ path: at(...keyPath), reason: p.reason });
  }
  for (const p of validatePortRange(w.ports, { ephemeral: host.ephemeral, reserved: reservedPublicPorts(data) })) {
    if (p.code === 'ephemeral-overlap' || p.code === 'reserved-overlap') problems.push({ path: at('ports'), reason: p.reason });
  }
  if (w.heartbeatTimeoutMs <= w.heartbeatMs) {
    problems.push({ path: at('heartbeatTimeoutMs'), reason: `must be longer than heartbeatMs (${w.heartbeatMs}); three heartbeats' worth is usual` });
  }
  if (!registryProblems.some((p) => p.path[0] === 'privateNetwork')) {
    // Only the network matters here; the rest of the section may have problems of its own.
    const compiled: CompiledConfig = compileConfig({ ports: [1, 1], privateNetwork: w.privateNetwork, quota: 0, coolDownMs: 0, heartbeatTimeoutMs: 1, workers: [] });
    const outside = addressRefusal(compiled, w.privateAddress);
    if (outside !== undefined) problems.push({ path: at('privateAddress'), reason: outside });
    if (addressRefusal(compiled, w.api.listen.address) !== undefined) {
      problems.push({ path: at('api', 'listen', 'address'), reason: `must be an address on the private network ${w.privateNetwork}: the registration API is not offered elsewhere` });
    }
  }
  if (new Set(expandPool(data.pool.addresses)).has(parseIpv4(w.publicAddress))) {
    problems.push({ path: at('publicAddress'), reason: 'must not be a pool address (pool addresses are DNATed per reservation)' });
  }
  if (w.publicAddress === w.privateAddress) problems.push({ path: at('privateAddress'), reason: 'must differ from publicAddress' });
  return problems;
}

/** Ports the gateway itself listens on at the public address (or on every address): no lease may take them. */
export function reservedPublicPorts(data: GatewayConfigData): number[] {
  const on = (address: string) => address === data.workers?.publicAddress || address === '0.0.0.0';
  const listeners = [...data.dns.wan.listen, ...(data.dns.lan?.listen ?? [])];
  const ports = listeners.filter((l) => on(l.address)).map((l) => l.port);
  if (data.stun) {
    const { listen, alternate } = data.stun;
    for (const a of [listen.address, alternate?.address]) {
      if (a !== undefined && on(a)) ports.push(listen.port, ...(alternate?.port !== undefined ? [alternate.port] : []));
    }
  }
  return ports;
}

export function stunProblems(data: GatewayConfigData): KeyProblem[] {
  const s = data.stun;
  if (!s?.alternate) return [];
  const problems: KeyProblem[] = [];
  if (s.alternate.address === s.listen.address) problems.push({ path: ['stun', 'alternate', 'address'], reason: 'must be another address of the gateway than stun.listen.address' });
  if (s.alternate.port === s.listen.port) problems.push({ path: ['stun', 'alternate', 'port'], reason: 'must differ from stun.listen.port (or be left out)' });
  return problems;
}

function expandPool(specs: string[]): number[] {
  return specs.flatMap((spec) => {
    try {
      return expandIpv4Range(spec);
    } catch {
      return []; // reported with the pool's own problems
    }
  });
}
