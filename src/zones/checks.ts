/** Zone-level consistency rules that need every record of the file. */

import type { ZoneRecord } from './types.js';

type Report = (line: number | undefined, reason: string) => void;

function show(name: string): string {
  return name === '' ? '(root)' : name;
}

function dataKey(r: ZoneRecord): string {
  return JSON.stringify(r.data);
}

/**
 * Checks SOA (exactly one, at the apex), apex NS, no delegation, CNAME exclusivity, duplicates, uniform TTL per
 * RRset and address records for in-zone name servers. A missing SOA or NS is not reported when such a record
 * was written but rejected (`failedTypes`): that problem is already reported.
 * Returns the SOA record when there is exactly one at the apex.
 */
export function checkZone(apex: string, records: ZoneRecord[], failedTypes: Set<string>, report: Report): ZoneRecord | undefined {
  const soas = records.filter((r) => r.type === 'SOA');
  let soa: ZoneRecord | undefined;
  if (soas.length === 0 && !failedTypes.has('SOA')) report(undefined, `no SOA record for ${show(apex)}`);
  for (const r of soas) {
    if (r.name !== apex) report(r.line, `SOA record at ${show(r.name)}, not at the apex ${show(apex)}`);
    else if (soa) report(r.line, `more than one SOA record (the first is at line ${soa.line})`);
    else soa = r;
  }

  const apexNs = records.filter((r) => r.type === 'NS' && r.name === apex);
  if (apexNs.length === 0 && !failedTypes.has('NS')) report(undefined, `no NS record at the apex ${show(apex)}`);
  for (const r of records) {
    if (r.type === 'NS' && r.name !== apex) {
      report(r.line, `NS record at ${r.name}: delegations are not supported yet`);
    }
  }

  const byName = new Map<string, ZoneRecord[]>();
  for (const r of records) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  for (const [name, list] of byName) {
    const cnames = list.filter((r) => r.type === 'CNAME');
    if (cnames.length === 0) continue;
    for (const extra of cnames.slice(1)) report(extra.line, `more than one CNAME at ${name} (the first is at line ${cnames[0].line})`);
    const other = list.find((r) => r.type !== 'CNAME');
    if (other) {
      const later = other.line > cnames[0].line ? other : cnames[0];
      const earlier = later === other ? cnames[0] : other;
      report(later.line, `CNAME at ${name} cannot coexist with other data (${earlier.type} at line ${earlier.line})`);
    }
  }

  const rrsets = new Map<string, ZoneRecord[]>();
  for (const r of records) {
    const key = `${r.name}\u0000${r.type}`;
    const set = rrsets.get(key) ?? [];
    const twin = set.find((o) => dataKey(o) === dataKey(r));
    if (twin) report(r.line, `duplicate ${r.type} record for ${show(r.name)} (also at line ${twin.line})`);
    else if (set.length > 0 && set[0].ttl !== r.ttl) {
      report(r.line, `TTL ${r.ttl} differs from TTL ${set[0].ttl} of the same ${r.type} set at line ${set[0].line} (RFC 2181 5.2)`);
    }
    set.push(r);
    rrsets.set(key, set);
  }

  for (const ns of apexNs) {
    const target = ns.data as string;
    if (!(target === apex || target.endsWith('.' + apex) || apex === '')) continue;
    const hasAddress = (byName.get(target) ?? []).some((r) => r.type === 'A' || r.type === 'AAAA');
    if (!hasAddress) report(ns.line, `name server ${target} is inside the zone but has no A or AAAA record`);
  }
  return soa;
}
