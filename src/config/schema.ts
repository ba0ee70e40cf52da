import { z } from 'zod';
import { isIpv4 } from '../util/ipv4.js';
import { pbraSection } from '../pbra/schema.js';
import { forwardsSection } from '../forwards/schema.js';
import { proxySection } from '../proxy/schema.js';

/**
 * The gateway's own configuration file. Strict objects everywhere: an unknown key is an error, because a
 * misspelt option silently falling back to a default is how gateways end up open.
 */

const ipv4 = z.string().refine(isIpv4, { message: 'must be a dotted-quad IPv4 address' });
const port = z.number().int().min(0).max(65535);
const millis = z.number().int().positive();

const listener = z.strictObject({
  address: ipv4,
  port: port.default(53),
});

const cidr = z
  .string()
  .regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/, 'must be a CIDR block such as 192.168.0.0/24')
  .refine((c) => isIpv4(c.split('/')[0]) && Number(c.split('/')[1]) <= 32, { message: 'must be a CIDR block such as 192.168.0.0/24' });

/**
 * Response-rate limiting of WAN answers (BIND-style RRL): identical answers to one client prefix beyond the
 * rate are dropped, every slip-th one sent truncated so a real client retries over TCP. Guards against the
 * gateway being used as a reflector towards a spoofed victim.
 */
const rrlDefaults = { enabled: true, responsesPerSecond: 20, slip: 2, window: 15, ipv4PrefixLength: 24, ipv6PrefixLength: 56, maxTracked: 100_000 };
const rrl = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Identical responses per second to one prefix before limiting. */
    responsesPerSecond: z.number().positive().max(100_000).default(20),
    /** Every slip-th limited response goes out truncated (TC=1); 0: all dropped, 1: all truncated. */
    slip: z.number().int().min(0).max(10).default(2),
    /** Seconds of excess a flood can bank: limiting lasts up to this long after it stops. */
    window: z.number().int().min(1).max(3600).default(15),
    /** Clients are grouped by these prefixes (a resolver farm shares one budget). */
    ipv4PrefixLength: z.number().int().min(8).max(32).default(24),
    ipv6PrefixLength: z.number().int().min(16).max(128).default(56),
    /** (prefix, response) pairs remembered at most; memory is bounded by it. */
    maxTracked: z.number().int().min(1000).max(10_000_000).default(100_000),
  })
  .default(rrlDefaults);

const upstream = z.strictObject({
  address: ipv4,
  port: port.default(53),
});

/** One public port leased to workers at most; the range is checked against the host in load-config.ts. */
const portRange = z.tuple([z.number().int(), z.number().int()]);

/** The gateway's STUN server, so workers need no third party to learn their NAT. */
const stunSection = z.strictObject({
  listen: z.strictObject({ address: ipv4, port: port.min(1).default(3478) }),
  /** A second address of the gateway (and optionally port): enables RFC 5780 behaviour tests and classic CHANGE-REQUEST. */
  alternate: z.strictObject({ address: ipv4, port: port.min(1).optional() }).optional(),
});

/** Workers behind NAT: registration API, public port leases and their kernel mappings. */
const workersSection = z.strictObject({
  backend: z.enum(['nftables', 'ipvs']).default('nftables'),
  /** Where clients connect: every lease is a port on this address. */
  publicAddress: ipv4,
  /**
   * One of our zones: `<worker>.<zone>` A and `_<port>._<proto>.<worker>.<zone>` SRV are published there while a
   * worker is registered. Default: pool.nameZone, else the first forward zone.
   */
  zone: z.string().min(1).optional(),
  /** The gateway's address on the private network: forwarded traffic leaves with it (FULL-NAT); never a target. */
  privateAddress: ipv4,
  /** CIDR of the network between gateway and workers; registrations from elsewhere are refused. */
  privateNetwork: z.string(),
  api: z.strictObject({
    /** Must be on the private network: the registration API is never offered to the Internet. */
    listen: z.strictObject({ address: ipv4, port: port.min(1).default(4780) }),
  }),
  /** [start, end], inclusive: outside the local ephemeral range and the gateway's own listeners. */
  ports: portRange,
  quota: z.number().int().min(0).default(8),
  coolDownMs: z.number().int().min(0).default(60_000),
  heartbeatMs: millis.default(10_000),
  heartbeatTimeoutMs: millis.default(35_000),
  /** Registrations and leases, so public ports survive a restart; relative to this config file. */
  stateFile: z.string().min(1),
  workers: z
    .array(
      z.strictObject({
        name: z.string(),
        /** `realmgw`'s hashSecret() of the worker's secret; never the secret itself. */
        secretHash: z.string(),
        quota: z.number().int().min(0).optional(),
      }),
    )
    .default([]),
});

export type WorkersSection = z.output<typeof workersSection>;

export const configSchema = z.strictObject({
  /** Folder of RFC 1035 master files, relative to this config file. */
  zones: z.string().min(1),
  /** Folder of subscriber policy YAML, relative to this config file. */
  policies: z.string().min(1),
  dns: z.strictObject({
    wan: z.strictObject({
      listen: z.array(listener).min(1),
      rrl,
      /**
       * How service names' SRV and TXT answers are written. realmgw: SRV target `_<port>._<tcp|udp|sctp>.<name>`,
       * TXT `proxy_required=… protocol=… port=…` (no allocation). realm-gateway: Realm Gateway's own formats, which
       * a Realm Gateway in front of or behind realmgw parses (NOTES §5): SRV target `_<port>._<protocol number>.<name>`,
       * TXT `proxy_<True|False>.port_<n>.protocol_<n>.<name>.` with the allocated address as additional A.
       */
      serviceFormats: z.enum(['realmgw', 'realm-gateway']).default('realmgw'),
    }),
    lan: z
      .strictObject({
        listen: z.array(listener).min(1),
        forwarders: z.array(upstream).default([]),
        forwardTimeoutMs: millis.default(1000),
        forwardAttempts: z.number().int().min(1).max(10).default(3),
        /** Queries relayed to upstreams at once; beyond it a query is answered SERVFAIL at once (and counted). */
        maxInFlight: z.number().int().min(1).max(100_000).default(1000),
        /**
         * Networks whose hosts the LAN view answers (it recurses for them: anyone else would find an open
         * resolver). Others are dropped unanswered and counted. Default: dataplane.lan.network when a data
         * plane is configured, else everyone.
         */
        allowFrom: z.array(cidr).min(1).optional(),
      })
      .optional(),
    /** Largest UDP response we send to an EDNS client, and the size we advertise (RFC 9715 suggests 1232). */
    udpPayloadSize: z.number().int().min(512).max(4096).default(1232),
    /** A TCP connection without traffic for this long is closed. */
    tcpIdleTimeoutMs: millis.default(10000),
    /** TCP connections open at once, per listener. */
    tcpMaxConnections: z.number().int().positive().default(1024),
    /** TCP connections one source address may hold per listener; another source is still served. */
    tcpMaxConnectionsPerSource: z.number().int().positive().default(16),
    /** A TCP connection is closed this long after it opened, busy or not (RFC 7766 §6.2.3). */
    tcpMaxLifetimeMs: millis.default(120_000),
    /** Unsent answer bytes per TCP connection at which we stop reading its queries until it reads. */
    tcpMaxQueuedBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(65_536),
    /** Queries per TCP connection being answered at once (forwards, retries) before we stop reading it. */
    tcpMaxInFlight: z.number().int().min(1).max(10_000).default(64),
  }),
  pool: z.strictObject({
    /** Public address where the gateway itself (and proxy_required names) answer. */
    serviceAddress: ipv4,
    /** Addresses, ranges (a-b) or CIDR blocks handed out for service names. */
    addresses: z.array(z.string()).min(1),
    /** Default reservation lifetime; a service name may set its own in its policy. */
    lifetimeMs: millis.default(2000),
    /** TCP clients are answered empty after one retry this long after an exhausted or refused allocation. */
    tcpRetryMs: z.number().int().min(0).max(5000).default(250),
    /** Zone in which every pool address gets a forward name (pool-a-b-c-d.<zone>) matching its PTR. */
    nameZone: z.string().optional(),
  }),
  /**
   * The kernel data plane: how the first packet of a flow to a pool address is confirmed and DNATed.
   * Absent: DNS only (nothing is installed in the kernel).
   */
  dataplane: z
    .strictObject({
      /**
       * nfqueue: the first packet goes to userspace, is matched to a reservation (exact, port wildcard,
       * protocol wildcard, both) and consumed there. nftset: reservations are single-use elements of nft
       * sets consumed by the packet path itself; no userspace round trip.
       */
      confirm: z.enum(['nfqueue', 'nftset']).default('nfqueue'),
      queue: z
        .strictObject({
          num: z.number().int().min(0).max(65535).default(1),
          /** false (default): fail closed, new flows to the pool are dropped while realmgw is down. */
          bypass: z.boolean().default(false),
        })
        .default({ num: 1, bypass: false }),
      /** A first packet without a reservation: reject (TCP RST / ICMP unreachable) or drop silently. */
      unmatched: z.enum(['reject', 'drop']).default('reject'),
      wan: z.strictObject({ interface: z.string().min(1) }),
      lan: z.strictObject({
        interface: z.string().min(1),
        /** The realm's private network, CIDR; hosts' outbound traffic is SNATed to the service address. */
        network: z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/, 'must be a CIDR block such as 192.168.0.0/24'),
      }),
      /** Packet marks realmgw uses are markBase + n (n < 65536); pick a base nothing else on the box uses. */
      markBase: z.number().int().min(0x10000).max(0xffff0000).default(0x52470000),
      /**
       * How often the installed kernel state is verified and repaired when it drifted (README "Drift
       * repair"), ms between checks; 0: only on demand (admin /verify).
       */
      verifyIntervalMs: z.number().int().min(0).max(3_600_000).default(10_000),
    })
    .optional(),
  stun: stunSection.optional(),
  workers: workersSection.optional(),
  /** The relay for proxy_required names on the service address (HTTP Host, TLS SNI); see src/proxy/schema.ts. */
  proxy: proxySection.optional(),
  /** Static port forwards (fixed public ports to private hosts, dnat or fullnat); see src/forwards/schema.ts. */
  forwards: forwardsSection.optional(),
  /** Reputation and load tiers for the pool (Realm Gateway's PBRA); see src/pbra/schema.ts. Absent: off. */
  pbra: pbraSection.optional(),
  /**
   * Opt-in TCP listener for Prometheus and health probes: /metrics, /healthz, /readyz only (the admin API stays on
   * its socket). Never on a WAN address: `check` refuses the DNS WAN listeners, the pool, the service address and
   * every other public address of the config (config/metrics-check.ts).
   */
  metrics: z
    .strictObject({
      listen: z.strictObject({ address: ipv4, port: port.min(1) }),
      /** Connections open at once on the listener; more are closed at accept. */
      maxConnections: z.number().int().min(1).max(1024).default(16),
    })
    .optional(),
  /** Graceful stop (SIGTERM, SIGINT): how long the gateway drains before it removes its kernel state. */
  shutdown: z
    .strictObject({
      /**
       * Lame duck: no new reservations (allocating queries answered REFUSED), readiness false, reservations
       * already handed out can still be used. Default: pool.lifetimeMs (the last one handed out has expired).
       */
      lameDuckMs: z.number().int().min(0).max(600_000).optional(),
    })
    .optional(),
  admin: z
    .strictObject({
      /** Unix socket for the admin API; reachable from outside the gateway's network namespace. */
      socket: z.string().min(1),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    })
    .default({ level: 'info' }),
});

export type GatewayConfigData = z.output<typeof configSchema>;
