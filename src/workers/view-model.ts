/**
 * The workers as the gateway reports them (GET /workers, built by WorkersService.view()): plain data shared by
 * the service, the registration API and the operator's table (api/), kept here so that workers/ never imports
 * its sub-folders.
 */
import type { Counters } from './accounting.js';
import type { Protocol } from './lease.js';

/** What a worker may say about its NAT when registering (from STUN discovery); for logs and `realmgw workers`. */
export interface NatSummary {
  classic?: string;
  mapping?: string;
  filtering?: string;
  method?: string;
  mappedAddress?: string;
  mappedPort?: number;
}

export interface LeaseRow {
  endpoint: string;
  protocol: Protocol;
  port: number;
  publicPort: number;
  counters: Counters;
}

export interface WorkerRow {
  name: string;
  address: string;
  /** Epoch ms. */
  lastSeen: number;
  nat?: NatSummary;
  leases: LeaseRow[];
  totals: Counters;
}

export interface WorkersView {
  publicAddress: string;
  workers: WorkerRow[];
}
