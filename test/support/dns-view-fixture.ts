/** A small realm for DNS unit tests: gwa.demo with two hosts, their service names and a 3-address pool. */
import type { HostSource } from '../../src/dns/authority/views.js';
import type { ZoneSource } from '../../src/dns/authority/zone-tree.js';
import { parseIpv4 } from '../../src/util/ipv4.js';

const soa = (origin: string) => ({
  name: origin, type: 'SOA', ttl: 3600,
  data: { mname: `ns1.${origin}`, rname: `hostmaster.${origin}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
});
export const zones: ZoneSource[] = [
  {
    origin: 'gwa.demo',
    soa: soa('gwa.demo'),
    records: [
      soa('gwa.demo'),
      { name: 'gwa.demo', type: 'NS', ttl: 3600, data: 'ns1.gwa.demo' },
      { name: 'ns1.gwa.demo', type: 'A', ttl: 3600, data: '100.64.1.130' },
      { name: 'alias.gwa.demo', type: 'CNAME', ttl: 300, data: 'ns1.gwa.demo' },
      { name: 'big.gwa.demo', type: 'TXT', ttl: 300, data: Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(200, 'x')) },
    ],
  },
  { origin: '0.168.192.in-addr.arpa', soa: soa('0.168.192.in-addr.arpa'), records: [soa('0.168.192.in-addr.arpa')] },
  { origin: '1.64.100.in-addr.arpa', soa: soa('1.64.100.in-addr.arpa'), records: [soa('1.64.100.in-addr.arpa')] },
];
const svc = (fqdn: string, protocol: number, port: number, extra = {}) => ({ fqdn, protocol, port, proxyRequired: false, carriergrade: false, loosePacket: 0, ...extra });
export const hosts: HostSource[] = [
  {
    id: 'hosta.gwa.demo', fqdns: ['hosta.gwa.demo'], ipv4: '192.168.0.100', ipv4s: ['192.168.0.100'], circularPoolMax: 2,
    services: [svc('hosta.gwa.demo', 0, 0), svc('www.hosta.gwa.demo', 6, 80), svc('ssh.hosta.gwa.demo', 6, 22), svc('web.hosta.gwa.demo', 6, 443, { proxyRequired: true })],
  },
  { id: 'hostb.gwa.demo', fqdns: ['hostb.gwa.demo'], ipv4: '192.168.0.101', ipv4s: ['192.168.0.101'], services: [svc('www.hostb.gwa.demo', 6, 80)] },
];
export const poolAddrs = ['100.64.1.131', '100.64.1.132', '100.64.1.133'].map(parseIpv4);
