import { z } from 'zod';

/**
 * The `proxy:` section of the gateway config: the relay for proxy_required names on the service address.
 * Present: proxy_required names load (their A answer is the service address) and the relay listens; absent:
 * check refuses proxy_required names, since nothing would carry their connections.
 *
 *   proxy:
 *     http: 80                  # the ports it relays by Host (HTTP) and by SNI (TLS); [] or 0 turns one off
 *     tls: 443
 *     proxyProtocol: [www.hostb.gwa.demo, hosta.gwa.demo]   # names or host ids whose upstream gets PROXY v2
 *     limits: { maxConnections: 1024, maxPerSource: 32, headerTimeoutMs: 10000, ... }
 */
const port = z.number().int().min(0).max(65535);
export const proxySection = z.strictObject({
  http: port.default(80),
  tls: port.default(443),
  /** Service names or host ids (their every proxied name) whose upstream connection starts with a PROXY v2 header. */
  proxyProtocol: z.array(z.string().min(1)).default([]),
  limits: z
    .strictObject({
      maxConnections: z.number().int().min(1).max(1_000_000).optional(),
      maxPerSource: z.number().int().min(1).max(100_000).optional(),
      maxHeaderBytes: z.number().int().min(512).max(1024 * 1024).optional(),
      headerTimeoutMs: z.number().int().min(100).max(600_000).optional(),
      connectTimeoutMs: z.number().int().min(100).max(600_000).optional(),
      idleTimeoutMs: z.number().int().min(1000).max(86_400_000).optional(),
      lingerMs: z.number().int().min(0).max(60_000).optional(),
    })
    .default({}),
});

export type ProxySection = z.output<typeof proxySection>;
