import path from 'node:path';
import type { NodeName, NsProcess, Testbed } from './netns.js';
import { makeTempDir, writeTempFile } from './repo.js';

export interface UnboundOptions {
  /**
   * Send EDNS Client Subnet (RFC 7871) to the gateway: the subnetcache module with `send-client-subnet`, so the
   * gateway learns the client's /24 and can bind a reservation to it (Debian's unbound is built with
   * --enable-subnet). Clients must then query Unbound from the address their flows will come from: a client
   * asking 127.0.0.1 is reported as 127.0.0.0/24.
   */
  ecs?: boolean;
  /** Source address of Unbound's queries to the gateway (`outgoing-interface`); default: chosen by routing. */
  outgoing?: string;
  /** More zones the gateway is authoritative for (e.g. a CNAME challenge's alias zone), stubbed to it too. */
  moreZones?: readonly string[];
}

/**
 * Debian's Unbound as a real recursive resolver inside a test namespace, with the realm's zone stubbed to the
 * gateway's WAN address: the path Internet clients really take. No validation (the zone is unsigned and the
 * testbed has no root), no cache prefetching; TTL 0 answers are never cached, as a resolver should.
 */
export async function startUnbound(tb: Testbed, node: NodeName, listen: string, zone: string, gateway: string, opts: UnboundOptions = {}): Promise<NsProcess> {
  const dir = await makeTempDir('unbound');
  const conf = await writeTempFile(
    'unbound.conf',
    [
      'server:',
      `  interface: ${listen}`,
      '  port: 53',
      '  do-ip6: no',
      '  access-control: 0.0.0.0/0 allow',
      `  directory: "${dir}"`,
      '  chroot: ""',
      '  username: ""',
      `  pidfile: "${path.join(dir, 'unbound.pid')}"`,
      opts.ecs ? '  module-config: "subnetcache iterator"' : '  module-config: "iterator"',
      ...(opts.ecs ? [`  send-client-subnet: ${gateway}`] : []),
      ...(opts.outgoing ? [`  outgoing-interface: ${opts.outgoing}`] : []),
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 1',
      '  do-not-query-localhost: no',
      // QNAME minimisation asks `hosta.gwa.demo A` on the way to `tcp.hosta.gwa.demo`, and that intermediate
      // name is itself a service name: every lookup would spend two reservations. Operators putting Unbound in
      // front of a realm gateway must turn it off for the realm's zone; so do we.
      '  qname-minimisation: no',
      '  num-threads: 1',
      // Give up quickly on a silent (exhausted) gateway and try again, like a stub resolver would.
      '  infra-host-ttl: 1',
      ...[zone, ...(opts.moreZones ?? [])].map((z) => `  domain-insecure: "${z}"`),
      ...[zone, ...(opts.moreZones ?? [])].flatMap((z) => ['stub-zone:', `  name: "${z}"`, `  stub-addr: ${gateway}`]),
      '',
    ].join('\n'),
    { dir },
  );
  const proc = tb.spawn(node, 'unbound', ['-d', '-c', conf]);
  await proc.ready(/start of service/, 10_000);
  return proc;
}
