// STUN for workers behind NAT: the codec, the server (RFC 5389 binding, RFC 5780 CHANGE-REQUEST and
// OTHER-ADDRESS, classic RFC 3489 clients), and NAT discovery on the worker side.
export { type AddressFamily, type TransportAddress, formatEndpoint, transportAddress } from './address.js';
export {
  decode,
  encode,
  messageType,
  type ChangeRequest,
  type DecodeError,
  type DecodeErrorCode,
  type DecodeResult,
  type ErrorCode,
  type OutAttribute,
  type OutMessage,
  type RawAttribute,
  type StunHeader,
  type StunMessage,
} from './codec.js';
export { ATTR, MAGIC_COOKIE, METHOD_BINDING, type StunClass } from './constants.js';
export {
  classify5780,
  classifyClassic,
  classicName,
  type ChangeOutcome,
  type ClassicNatType,
  type ClassicObservations,
  type Classification,
  type FilteringBehaviour,
  type MappingBehaviour,
  type MappingOutcome,
  type Rfc5780Observations,
} from './classify.js';
export { discoverNat, type DiscoverOptions, type DiscoveryTest, type NatDiscovery, type StunServerAddress } from './discover.js';
export { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js';
export { StunServer, type StunServerOptions, type StunServerStats } from './server.js';
export { decideReply, type ReplyDecision, type ServerLayout } from './server-reply.js';
export { retransmitSchedule, StunTransactions, type RetransmitOptions, type Timers, type TransactionOutcome } from './transaction.js';
