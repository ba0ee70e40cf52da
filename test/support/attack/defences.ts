/**
 * THE place where issue 8's defences are switched on for the attack suite and its bench rows: gateway config
 * merged over the demo's by startGateway (test/support/gateway.ts). `on` is what the phases and the
 * defence-dependent tests run with (test/e2e/attack.test.ts runs those tests only with RGW_ATTACK_DEFENCES=1);
 * the bench's allocating-QPS row runs a proven requester against both, in the same run.
 *
 * The demo config ships with the defences on (its `pbra` section), so `on` adds nothing and `off` removes the
 * section.
 */
export type GatewayOverrides = { [key: string]: unknown };

export const DEFENCES: { readonly on: GatewayOverrides; readonly off: GatewayOverrides } = {
  on: {},
  off: { pbra: null },
};

/**
 * Whether the legitimate clients' Unbound sends EDNS Client Subnet to the gateway. 'auto': only when the
 * gateway echoes the option (RFC 7871 §7.2.1; checked once per testbed with a TCP query for the zone's SOA).
 * Unbound (1.17, subnetcache) takes an answer without ECS as "this server ignores ECS" and asks the same name
 * again without it, so against a gateway that does not echo every lookup spent two reservations and the
 * no-attack phase fell to ~40 % (measured 2026-12-04).
 */
export const RESOLVER_SENDS_ECS: boolean | 'auto' = 'auto';

/**
 * Zones other than gwa.demo the gateway answers for with the defences on (e.g. the CNAME challenge's alias zone,
 * if it is not under gwa.demo): the legitimate clients' Unbound stubs them to the gateway too, or it would look
 * for them from the (absent) root and every challenged lookup would fail.
 */
export const RESOLVER_MORE_ZONES: readonly string[] = [];

/** RGW_ATTACK_DEFENCES=1: the defences are in, so the tests that need them run. */
export function defencesEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.RGW_ATTACK_DEFENCES === '1';
}
