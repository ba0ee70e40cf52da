/** One subscriber entry (a top-level key of a subscriber file) into a SubscriberHost. */

import type { Node } from 'yaml';
import { isScalar, isSeq } from 'yaml';
import { isIpv4 } from '../util/ipv4.js';
import { parseFqdn } from '../zones/names.js';
import { readRule } from './firewall.js';
import { pathKey, setHostSource } from './sources.js';
import { SERVICE_PROTOCOLS, type FirewallRule, type ServiceName, type SubscriberHost } from './types.js';
import { describe, readBool, readInt, readList, readMap, readString, requireField, type FileCtx, type Path } from './yaml-walk.js';

export const HOST_KEYS = ['ID', 'GROUP', 'CIRCULARPOOL', 'CARRIERGRADE', 'SFQDN', 'FIREWALL'] as const;
const ID_KEYS = ['fqdn', 'ipv4', 'msisdn'];
const SFQDN_KEYS = ['fqdn', 'port', 'protocol', 'proxy_required', 'carriergrade', 'loose_packet', 'lifetime'];
const SFQDN_RETIRED: Record<string, string> = {
  alias: "'alias' is internal to RealmGateway and not accepted in policy files",
};
/**
 * SFQDN keys Realm Gateway read from the file and then dropped: its src/pbra.py (_best_effort_allocate, where
 * it builds the ConnectionLegacy for an allocation; github:Aalto5G/RealmGateway at 863434f) passes loose_packet on
 * but has `'autobind'` and `'timeout'` commented out, so every connection kept ConnectionLegacy's defaults
 * (src/connection.py: autobind True, timeout 2 s) whatever the file said. Files written for it still carry them; refusing them would
 * make an operator edit files whose meaning does not change.
 */
const SFQDN_IGNORED: Record<string, string> = {
  autobind:
    "ignored, as Realm Gateway ignored it (its reservations always bound to the first flow's source); realmgw does the same: " +
    'with loose_packet other than 0, further flows are admitted only from the source of the first one',
  timeout:
    "ignored, as Realm Gateway ignored it (its reservations always lasted its built-in default); realmgw keeps the reservation " +
    "for the config's pool.lifetimeMs, or for 'lifetime' (seconds) when this entry sets it",
};
/** Upper bound for loose_packet N: large enough for any real use, small enough to be a count, not a typo. */
const MAX_LOOSE_PACKET = 65535;
const MAX_LIFETIME_S = 86_400;

/** Collects problems and line numbers while reading one host. */
class HostReader {
  readonly lines = new Map<string, number>();
  private readonly before: number;

  constructor(
    readonly ctx: FileCtx,
    readonly key: string,
  ) {
    this.before = ctx.problems.length;
  }

  at(...rest: Path): Path {
    return [this.key, ...rest];
  }

  mark(node: unknown, ...rest: Path): void {
    const line = this.ctx.line(node);
    if (line !== undefined) this.lines.set(pathKey(rest), line);
  }

  get failed(): boolean {
    return this.ctx.problems.length > this.before;
  }

  fqdn(node: Node | null, ...rest: Path): string | undefined {
    const text = readString(this.ctx, node, this.at(...rest));
    if (text === undefined) return undefined;
    const r = parseFqdn(text);
    if ('error' in r) return void this.ctx.fail(this.at(...rest), node, r.error);
    if (r.wildcard) return void this.ctx.fail(this.at(...rest), node, `wildcard names are not supported: ${JSON.stringify(text)}`);
    return r.name;
  }

  ipv4(node: Node | null, ...rest: Path): string | undefined {
    const text = readString(this.ctx, node, this.at(...rest));
    if (text === undefined) return undefined;
    if (!isIpv4(text)) return void this.ctx.fail(this.at(...rest), node, `${JSON.stringify(text)} is not an IPv4 address`);
    this.mark(node, ...rest);
    return text;
  }

  /** A list of values read by `item`; duplicates are reported. */
  list<T>(node: Node | null, example: string, rest: Path, item: (n: Node | null, i: number) => T | undefined): T[] {
    const items = readList(this.ctx, node, this.at(...rest), example) ?? [];
    const out: T[] = [];
    const seen = new Map<string, number>();
    items.forEach((n, i) => {
      const v = item(n, i);
      if (v === undefined) return;
      const k = JSON.stringify(v);
      const first = seen.get(k);
      if (first !== undefined) this.ctx.fail(this.at(...rest, i), n, `duplicate of item [${first}]`);
      else seen.set(k, i);
      out.push(v);
    });
    return out;
  }
}

function readId(h: HostReader, node: Node | null, id: string) {
  const fields = readMap(h.ctx, node, h.at('ID'), ID_KEYS);
  if (!fields) return undefined;
  const ipv4Field = requireField(h.ctx, fields, 'ipv4', node, h.at('ID'));
  const ipv4s = ipv4Field ? h.list(ipv4Field.value, "['192.168.0.100']", ['ID', 'ipv4'], (n, i) => h.ipv4(n, 'ID', 'ipv4', i)) : [];
  if (ipv4Field && ipv4s.length === 0 && isSeq(ipv4Field.value) && ipv4Field.value.items.length === 0) {
    h.ctx.fail(h.at('ID', 'ipv4'), ipv4Field.value, 'needs at least one address');
  }
  let fqdns = [id];
  const fqdnField = fields.get('fqdn');
  if (fqdnField) {
    fqdns = h.list(fqdnField.value, `['${id}.']`, ['ID', 'fqdn'], (n, i) => {
      const name = h.fqdn(n, 'ID', 'fqdn', i);
      if (name !== undefined) h.mark(n, 'ID', 'fqdn', i);
      return name;
    });
    if (fqdns.length > 0 && fqdns[0] !== id) {
      h.ctx.fail(h.at('ID', 'fqdn', 0), fqdnField.value, `the first ID fqdn must be the host key ${id} (RealmGateway registers the host under ID.fqdn[0] and looks its policy up by the key)`);
    }
    if (isSeq(fqdnField.value) && fqdnField.value.items.length === 0) h.ctx.fail(h.at('ID', 'fqdn'), fqdnField.value, 'needs at least one name');
  }
  const msisdnField = fields.get('msisdn');
  const msisdn = msisdnField
    ? h.list(msisdnField.value, "['358401234567']", ['ID', 'msisdn'], (n, i) => {
        const s = readString(h.ctx, n, h.at('ID', 'msisdn', i));
        if (s !== undefined && !/^\+?\d{1,15}$/.test(s)) return void h.ctx.fail(h.at('ID', 'msisdn', i), n, `${JSON.stringify(s)} is not an MSISDN (up to 15 digits)`);
        return s;
      })
    : [];
  return { fqdns, ipv4s, msisdn };
}

function readCircularPool(h: HostReader, node: Node | null): number | undefined {
  let entry = node;
  let path = h.at('CIRCULARPOOL');
  if (isSeq(node)) {
    // RealmGateway files write both `CIRCULARPOOL: {max: 3}` and the one-item list `CIRCULARPOOL: [{max: 3}]`.
    if (node.items.length !== 1) return void h.ctx.fail(path, node, `must be {max: N} or a list of exactly one {max: N}, not a list of ${node.items.length}`);
    entry = h.ctx.resolve(node.items[0]);
    path = h.at('CIRCULARPOOL', 0);
  }
  const fields = readMap(h.ctx, entry, path, ['max']);
  const max = fields && requireField(h.ctx, fields, 'max', entry, path);
  return max && readInt(h.ctx, max.value, [...path, 'max'], 1, 1_000_000);
}

/**
 * Realm Gateway's loose_packet (src/connection.py, ConnectionLegacy.post_processing): 0 = the first flow
 * consumes the reservation; N > 0 = N more flows, counted down; below 0 = flows until the reservation expires.
 * realmgw takes -1 as the only spelling of "until it expires" so that a stray minus sign on a count is caught.
 */
function readLoosePacket(ctx: FileCtx, node: Node | null, path: Path): number | undefined {
  if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= -1 && node.value <= MAX_LOOSE_PACKET) {
    return node.value;
  }
  ctx.fail(
    path,
    node,
    `must be 0 (single use), a number of further flows from the first flow's source 1..${MAX_LOOSE_PACKET}, ` +
      `or -1 (flows from that source until the reservation's lifetime ends), not ${describe(node)}`,
  );
  return undefined;
}

function readService(h: HostReader, node: Node | null, i: number, hostId: string): ServiceName | undefined {
  const at = (...k: Path) => h.at('SFQDN', i, ...k);
  const fields = readMap(h.ctx, node, h.at('SFQDN', i), SFQDN_KEYS, { retired: SFQDN_RETIRED, ignored: SFQDN_IGNORED });
  if (!fields) return undefined;
  const fqdnField = requireField(h.ctx, fields, 'fqdn', node, h.at('SFQDN', i));
  const fqdn = fqdnField && h.fqdn(fqdnField.value, 'SFQDN', i, 'fqdn');
  const get = <T>(key: string, dflt: T, read: (n: Node | null, p: Path) => T | undefined): T | undefined => {
    const f = fields.get(key);
    return f ? read(f.value, at(key)) : dflt;
  };
  const protocol = get('protocol', 0, (n, p) => {
    const v = readInt(h.ctx, n, p, 0, 255);
    if (v === undefined || (SERVICE_PROTOCOLS as readonly number[]).includes(v)) return v;
    h.ctx.fail(p, n, `protocol ${v} is not one of 0 (any), 1 (icmp), 6 (tcp), 17 (udp), 132 (sctp)`);
    return undefined;
  });
  const port = get('port', 0, (n, p) => readInt(h.ctx, n, p, 0, 65535));
  const proxyRequired = get('proxy_required', false, (n, p) => readBool(h.ctx, n, p));
  const carriergrade = get('carriergrade', false, (n, p) => readBool(h.ctx, n, p));
  const loosePacket = get('loose_packet', 0, (n, p) => readLoosePacket(h.ctx, n, p));
  const lifetimeField = fields.get('lifetime');
  let lifetimeMs: number | undefined;
  if (lifetimeField) {
    const v = lifetimeField.value;
    const seconds = isScalar(v) && typeof v.value === 'number' ? v.value : NaN;
    if (!(seconds > 0 && seconds <= MAX_LIFETIME_S)) {
      h.ctx.fail(at('lifetime'), lifetimeField.value, `must be a number of seconds above 0 and at most ${MAX_LIFETIME_S}, not ${describe(lifetimeField.value)}`);
    } else {
      lifetimeMs = Math.round(seconds * 1000);
    }
  }
  if (fqdn === undefined || protocol === undefined || port === undefined || proxyRequired === undefined || carriergrade === undefined || loosePacket === undefined) {
    return undefined;
  }
  h.mark(node, 'SFQDN', i);
  const service: ServiceName = { fqdn, protocol, port, proxyRequired, carriergrade, loosePacket, hostId };
  if (lifetimeMs !== undefined) service.lifetimeMs = lifetimeMs;
  return service;
}

function readFirewall(h: HostReader, node: Node | null): { admin: FirewallRule[]; user: FirewallRule[] } {
  const fields = readMap(h.ctx, node, h.at('FIREWALL'), ['FIREWALL_ADMIN', 'FIREWALL_USER']);
  const chain = (key: 'FIREWALL_ADMIN' | 'FIREWALL_USER'): FirewallRule[] => {
    const f = fields?.get(key);
    if (!f) return [];
    const items = readList(h.ctx, f.value, h.at('FIREWALL', key), '[{priority: 100, direction: EGRESS, target: ACCEPT}]') ?? [];
    const rules = items.map((n, i) => readRule(h.ctx, n, h.at('FIREWALL', key, i))).filter((r): r is FirewallRule => r !== undefined);
    // Stable: rules of equal priority keep their file order, as RealmGateway's sorted() did.
    return rules.sort((a, b) => a.priority - b.priority);
  };
  return { admin: chain('FIREWALL_ADMIN'), user: chain('FIREWALL_USER') };
}

/**
 * Reads the entry `key: value` of a subscriber file. Returns undefined when the entry has any problem (all of
 * them are in ctx.problems).
 */
export function readHost(ctx: FileCtx, key: string, keyNode: unknown, value: Node | null): SubscriberHost | undefined {
  const h = new HostReader(ctx, key);
  const idName = parseFqdn(key);
  if ('error' in idName || idName.wildcard) {
    ctx.fail([key], keyNode, 'error' in idName ? `host key: ${idName.error}` : 'host key: wildcard names are not supported');
  }
  const id = 'error' in idName ? key : idName.name;
  h.mark(keyNode);
  if (value === null || (isScalar(value) && value.value === null)) {
    ctx.fail([key], keyNode, "the host entry is empty; it needs at least ID: {ipv4: ['...']}");
    return undefined;
  }
  const fields = readMap(ctx, value, [key], HOST_KEYS);
  if (!fields) return undefined;
  const idField = requireField(ctx, fields, 'ID', keyNode, [key]);
  const ident = idField && readId(h, idField.value, id);

  const groupField = fields.get('GROUP');
  const groups = groupField
    ? h.list(groupField.value, '[IPS_GROUP_PREPAID1]', ['GROUP'], (n, i) => {
        const s = readString(ctx, n, h.at('GROUP', i));
        if (s !== undefined && !/^[A-Za-z0-9_.-]{1,31}$/.test(s)) return void ctx.fail(h.at('GROUP', i), n, `${JSON.stringify(s)} is not an ipset name (1 to 31 letters, digits, '_', '.', '-')`);
        return s;
      })
    : [];

  const poolField = fields.get('CIRCULARPOOL');
  const circularPoolMax = poolField ? readCircularPool(h, poolField.value) : undefined;

  const cgField = fields.get('CARRIERGRADE');
  const carrierGrade = cgField
    ? h.list(cgField.value, "[{ipv4: '192.168.0.10'}]", ['CARRIERGRADE'], (n, i) => {
        const f = readMap(ctx, n, h.at('CARRIERGRADE', i), ['ipv4']);
        const a = f && requireField(ctx, f, 'ipv4', n, h.at('CARRIERGRADE', i));
        const ipv4 = a && h.ipv4(a.value, 'CARRIERGRADE', i, 'ipv4');
        return ipv4 === undefined ? undefined : { ipv4 };
      })
    : [];

  const sfqdnField = fields.get('SFQDN');
  const services: ServiceName[] = [];
  const seen = new Map<string, number>();
  const sfqdnItems = sfqdnField ? readList(ctx, sfqdnField.value, h.at('SFQDN'), "[{fqdn: 'www.host.gwa.demo.', protocol: 6, port: 80}]") ?? [] : [];
  sfqdnItems.forEach((n, i) => {
    const s = readService(h, n, i, id);
    if (!s) return;
    const first = seen.get(s.fqdn);
    if (first !== undefined) return void ctx.fail(h.at('SFQDN', i, 'fqdn'), n, `${s.fqdn} is already listed at SFQDN[${first}]`);
    seen.set(s.fqdn, i);
    services.push(s);
  });

  const fwField = fields.get('FIREWALL');
  const firewall = fwField ? readFirewall(h, fwField.value) : { admin: [], user: [] };

  if (h.failed || !ident) return undefined;
  const host: SubscriberHost = {
    id,
    fqdns: ident.fqdns,
    ipv4: ident.ipv4s[0],
    ipv4s: ident.ipv4s,
    msisdn: ident.msisdn,
    groups,
    carrierGrade,
    services,
    firewall,
    file: ctx.file,
  };
  if (circularPoolMax !== undefined) host.circularPoolMax = circularPoolMax;
  setHostSource(host, { key, file: ctx.file, lines: h.lines });
  return host;
}
