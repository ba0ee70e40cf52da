/** Workers behind NAT: the registry of workers and their public port leases, its state file, accounting. */
export { type ConfigProblem, StateFileError, type StateFileErrorCode, WorkersConfigError } from './errors.js';
export { type WorkerEntry, type WorkersConfig, checkWorkersConfig } from './config.js';
export {
  EMPTY_DIFF,
  type Endpoint,
  type Lease,
  type LeaseDiff,
  PROTOCOLS,
  type Protocol,
  type Service,
  compareLeases,
  formatEndpoint,
  invertDiff,
  parseEndpoint,
} from './lease.js';
export {
  type PortRange,
  type PortRangeContext,
  type PortRangeProblem,
  type PortRangeProblemCode,
  parseIpLocalPortRange,
  portRangeShapeProblems,
  validatePortRange,
} from './port-range.js';
export type { RandomInt } from './port-allocator.js';
export { type From, type Refusal, type RefusalCode } from './request.js';
export {
  type Accepted,
  type ExpireResult,
  Registry,
  type RegistryOptions,
  type RegistryResult,
  type RegistryStats,
  type WorkerView,
} from './registry.js';
export type { DropReason, DroppedRegistration, RestoreOptions, RestoreResult } from './restore.js';
export { generateSecret, hashSecret, MIN_SECRET_LENGTH, verifySecret, parseSecretHash } from './secret.js';
export type { RegistryState, SavedCoolDown, SavedLease, SavedRegistration } from './state.js';
export { STATE_FORMAT, STATE_VERSION, StateWriter, decodeState, encodeState, readStateFile, writeStateFile } from './state-file.js';
export { type Counters, type LeaseAccount, ZERO_COUNTERS, addCounters, mergeSample, totalsByWorker } from './accounting.js';
