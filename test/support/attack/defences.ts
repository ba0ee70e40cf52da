/**
 * THE place where issue 8's defences are switched on for the attack suite and its bench rows: gateway config
 * merged over the demo's by startGateway (test/support/gateway.ts). `on` is what the phases and the
 * defence-dependent tests run with (test/e2e/attack.test.ts);
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
 * Whether the legitimate clients' Unbound sends EDNS Client Subnet to the gateway: no. Debian 12's Unbound
 * (1.17, subnetcache module) keeps a TTL-0 answer that carried ECS for the rest of the second and hands it to
 * the next client of the same subnet without asking (measured 2026-12-04: four digs within a second got one
 * address, one allocation), so every client of the testbed's single /24 after the first got an address already
 * consumed, and a third of the no-attack flows were refused. Without ECS the requester PBRA sees is the
 * resolver itself (a trusted sla group in the demo). ECS binding is proven without a resolver in between
 * (test/e2e/ecs-binding.test.ts). 'auto' (only when the gateway echoes ECS) is kept for other resolvers.
 */
export const RESOLVER_SENDS_ECS: boolean | 'auto' = false;

/**
 * Zones other than gwa.demo the gateway answers for with the defences on (e.g. the CNAME challenge's alias zone,
 * if it is not under gwa.demo): the legitimate clients' Unbound stubs them to the gateway too, or it would look
 * for them from the (absent) root and every challenged lookup would fail.
 */
export const RESOLVER_MORE_ZONES: readonly string[] = [];
