import type { Lease } from './lease.js';

/** A worker's registration: kept by the registry, filled from the state file by restore.ts. */
export interface Registration {
  readonly worker: string;
  address: string;
  lastSeen: number;
  /** By serviceKey. */
  leases: Map<string, Lease>;
}
