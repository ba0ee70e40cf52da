/** The zone model every consumer (DNS server, PTR generator, cross-checks) reads. Names are canonical everywhere. */

/**
 * One resource record. `name` is canonical: lowercase, no trailing dot, the root is "".
 * `data` is the dns-packet `data` shape for `type`:
 * A/AAAA: address string; NS/CNAME/PTR: canonical name; MX: {preference, exchange};
 * SOA: {mname, rname, serial, refresh, retry, expire, minimum}; SRV: {priority, weight, port, target};
 * TXT: string[] (one string per character-string); CAA: {flags, tag, value}.
 */
export interface ZoneRecord {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
  /** 1-based line of the master file where the record starts. */
  line: number;
}

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface Zone {
  /** Canonical apex name, e.g. "gwa.demo" or "0.168.192.in-addr.arpa". */
  origin: string;
  /** Path of the master file the zone came from. */
  file: string;
  /** The zone's SOA record (also present in `records`). */
  soa: ZoneRecord;
  /** Every record of the zone in file order, SOA and apex NS included. */
  records: ZoneRecord[];
}

/** Record types realmgw serves from master files. */
export const SUPPORTED_TYPES = ['A', 'AAAA', 'NS', 'SOA', 'CNAME', 'MX', 'TXT', 'SRV', 'PTR', 'CAA'] as const;
