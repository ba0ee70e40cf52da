// The relay for proxy_required names (HTTP Host / TLS SNI, no TLS termination), as the gateway wires it.
export { type UpstreamResolver, type UpstreamTarget } from './connection.js';
export { DEFAULT_RELAY_LIMITS, ProxyRelay, type ProxyRelayOptions, type RelayLimits, type RelayListener, type RelayStats } from './relay.js';
export { type ListenerKind, type RefusalReason } from './sniff.js';
/** The spelling the resolver is asked with: build its map with the same function. */
export { canonicalName } from './names.js';
