/** Consistency of a loaded policy set with itself and with the loaded zones. */

import type { Problem } from '../errors.js';
import { isInZone } from '../zones/names.js';
import type { Zone } from '../zones/types.js';
import { hostSource, lineAt, type HostSource } from './sources.js';
import type { PolicySet } from './types.js';
import type { Path } from './yaml-walk.js';

/** Protocols whose packets carry no port: a service name for them must say port 0. */
const PORTLESS = new Set([1]);
const REVERSE = /(^|\.)(in-addr|ip6)\.arpa$/;

export interface CrossCheckOptions {
  /**
   * Whether a reverse-proxy service address is configured. When false, every proxy_required name is
   * reported; when absent, that part of the check is left to the gateway configuration.
   */
  proxyAvailable?: boolean;
  /** false: carriergrade names are refused, because nothing would ask the nested gateway for them. */
  carriergradeAvailable?: boolean;
}

/** A problem at `path` inside the host's entry, with the line of the nearest recorded node on that path. */
function problem(src: HostSource, path: Path, reason: string): Problem {
  let line: number | undefined;
  for (let n = path.length; n >= 0 && line === undefined; n--) line = lineAt(src, path.slice(0, n));
  const p: Problem = { file: src.file, path: [src.key, ...path], reason };
  if (line !== undefined) p.line = line;
  return p;
}

/**
 * Checks that every ID fqdn and service name lies in a loaded forward zone and has no static records there
 * (a host's ID name may be a zone apex beside its SOA and NS; a service name may not be an apex),
 * that no name and no IPv4 address is claimed by two hosts, that portless protocols have port 0, and that
 * proxy_required / carriergrade names have what they need (carriergrade needs CARRIERGRADE addresses and
 * cannot also be proxy_required; a proxy relays TCP only).
 */
export function crossCheck(p: PolicySet, zones: Zone[], options: CrossCheckOptions = {}): Problem[] {
  const problems: Problem[] = [];
  const forward = zones.filter((z) => !REVERSE.test(z.origin));
  const staticNames = new Map<string, { zone: Zone; line: number }>();
  for (const z of forward) {
    for (const r of z.records) {
      // Every apex has its SOA and NS; Realm Gateway's own folders give the gateway itself a host entry there
      // (ID only), which adds an address beside them. Any other record at the apex still clashes.
      if (r.name === z.origin && (r.type === 'SOA' || r.type === 'NS')) continue;
      if (!staticNames.has(r.name)) staticNames.set(r.name, { zone: z, line: r.line });
    }
  }
  const apexes = new Set(forward.map((z) => z.origin));

  const nameOwner = new Map<string, string>();
  const addressOwner = new Map<string, string>();
  const checkName = (src: HostSource, hostId: string, name: string, path: Path) => {
    const zone = forward.find((z) => isInZone(name, z.origin));
    if (!zone) {
      const known = forward.map((z) => z.origin).join(', ') || 'none';
      problems.push(problem(src, path, `${name} is not inside any loaded forward zone (zones: ${known})`));
    } else {
      const clash = staticNames.get(name);
      if (clash) problems.push(problem(src, path, `${name} also has static records in ${clash.zone.file}:${clash.line}`));
    }
    const owner = nameOwner.get(name);
    if (owner === undefined) nameOwner.set(name, hostId);
    else if (owner !== hostId) problems.push(problem(src, path, `${name} is also claimed by host ${owner}`));
  };

  for (const host of p.hosts.values()) {
    const src = hostSource(host);
    host.fqdns.forEach((name, i) => checkName(src, host.id, name, ['ID', 'fqdn', i]));
    host.services.forEach((s, i) => {
      const at: Path = ['SFQDN', i];
      if (!host.fqdns.includes(s.fqdn)) checkName(src, host.id, s.fqdn, [...at, 'fqdn']);
      const report = (key: string, reason: string) => problems.push(problem(src, [...at, key], reason));
      if (apexes.has(s.fqdn)) {
        report('fqdn', `${s.fqdn} is a zone apex (SOA and NS live there): a host's ID name may sit at the apex, a service name may not`);
      }
      if (PORTLESS.has(s.protocol) && s.port !== 0) {
        report('port', `protocol ${s.protocol} has no ports; port must be 0, not ${s.port}`);
      }
      if (s.carriergrade && host.carrierGrade.length === 0) {
        report('carriergrade', `${s.fqdn} is carriergrade but host ${host.id} has no CARRIERGRADE addresses`);
      }
      if (s.carriergrade && s.proxyRequired) {
        report('proxy_required', `${s.fqdn} cannot be both carriergrade and proxy_required`);
      }
      if (s.proxyRequired && s.protocol !== 0 && s.protocol !== 6) {
        report('proxy_required', `${s.fqdn} is proxy_required but the proxy relays TCP only (protocol ${s.protocol})`);
      }
      if (s.proxyRequired && options.proxyAvailable === false) {
        report('proxy_required', `${s.fqdn} is proxy_required but the config has no 'proxy:' section (nothing would relay its connections)`);
      }
      if (s.carriergrade && options.carriergradeAvailable === false) {
        report('carriergrade', `${s.fqdn} is carriergrade, but resolving through a nested gateway is not supported yet`);
      }
    });
    const addresses: [string, Path][] = [
      ...host.ipv4s.map((a, i): [string, Path] => [a, ['ID', 'ipv4', i]]),
      ...host.carrierGrade.map((c, i): [string, Path] => [c.ipv4, ['CARRIERGRADE', i, 'ipv4']]),
    ];
    for (const [address, path] of addresses) {
      const owner = addressOwner.get(address);
      if (owner === undefined) addressOwner.set(address, host.id);
      else if (owner !== host.id) problems.push(problem(src, path, `${address} is also claimed by host ${owner}`));
    }
  }
  return problems;
}
