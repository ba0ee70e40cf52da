import { z } from 'zod';
import { isIpv4 } from '../util/ipv4.js';

/**
 * The `forwards:` section of the gateway config: fixed public ports forwarded to private hosts (the static port
 * mode beside the circular pool and the workers). Strict like the rest of the config: a misspelt key is an
 * error, never a default.
 *
 *   forwards:
 *     innerAddress: 192.168.0.1        # the gateway's address on the inner network: FULL-NAT's source
 *     rules:
 *       - name: ssh-hosta              # counters, listings and `realmgw rules` use it
 *         protocol: tcp                # tcp | udp | sctp
 *         port: 2222                   # or [first, last]: a range, mapped one to one onto to.port..
 *         to: { address: 192.168.0.100, port: 22 }
 *         mode: dnat                   # dnat (the host sees the client) | fullnat (also SNAT to innerAddress)
 *         address: 100.64.1.130        # default pool.serviceAddress; must be the gateway's, never a pool address
 *         allowFrom: [198.51.100.0/24] # default: everyone
 *         dns: ssh.hosta.gwa.demo      # optional: A (the public address) and SRV _<port>._<proto>.<name>
 */

const ipv4 = z.string().refine(isIpv4, { message: 'must be a dotted-quad IPv4 address' });
const port = z.number().int().min(1).max(65535);

/** Ports of one rule at most: each is an element of the rule's DNAT map in the kernel. */
export const MAX_RANGE_PORTS = 1024;

const rule = z.strictObject({
  /** Lower-case letters, digits and '-': it becomes part of nft object names (fwd_<name>_...). */
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter"),
  protocol: z.enum(['tcp', 'udp', 'sctp']),
  port: z.union([port, z.tuple([port, port])]),
  to: z.strictObject({ address: ipv4, port }),
  mode: z.enum(['dnat', 'fullnat']).default('dnat'),
  address: ipv4.optional(),
  /** Addresses or CIDR blocks (checked by forwardProblems, which names the host bits a block must not have). */
  allowFrom: z.array(z.string().min(1)).min(1).optional(),
  dns: z.string().min(1).optional(),
});

export const forwardsSection = z.strictObject({
  /** Source address of FULL-NAT forwards on the inner network; required when any rule is `fullnat`. */
  innerAddress: ipv4.optional(),
  rules: z.array(rule).min(1),
});

export type ForwardsSection = z.output<typeof forwardsSection>;
export type ForwardRuleInput = z.output<typeof rule>;
