/** Subscriber policy loading: Realm Gateway subscriber YAML into a typed model. */
export type {
  Direction,
  FirewallRule,
  HashLimit,
  Ipv4Prefix,
  MergeEvent,
  PolicySet,
  PortRange,
  RuleTarget,
  ServiceName,
  StringMatch,
  SubscriberHost,
} from './types.js';
export { SERVICE_PROTOCOLS } from './types.js';
export { loadPolicyFolder, parsePolicyFiles, parsePolicyText } from './load.js';
export { crossCheck, type CrossCheckOptions } from './crosscheck.js';
