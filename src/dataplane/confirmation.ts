/**
 * How first packets to a reservation are confirmed: one strategy per `dataplane.confirm` mode, each owning
 * what it opens (a queue, an element channel, conntrack event readers) after the kernel state is installed.
 * dataplane.ts explains what both modes guarantee.
 */
import type { Logger } from '../log.js';
import type { CircularPool, Reservation } from '../pool/circular-pool.js';
import type { Drift } from './kernel-verify.js';
import type { DataplaneModel } from './model.js';

export interface DataplaneStats {
  /** Reservations consumed: a first packet (not TCP), or a completed TCP handshake. */
  confirmed: number;
  /** Packets refused (nfqueue mode). */
  refused: number;
  unparsable: number;
  /**
   * First packets that matched a live reservation's (address, protocol, port) but came from outside the client
   * subnet it is bound to: refused, the reservation left for its client. nftset: the kernel's `stolen`
   * counter, read when /stats is asked (refreshKernelCounters).
   */
  stolenRefused: number;
  /**
   * TCP handshakes that completed after their reservation was gone (a concurrent handshake consumed it, or it
   * expired meanwhile): answered with a reset. nftset: the kernel's `handshake` counter (packets).
   */
  handshakeRefused: number;
  /** nfqueue mode: TCP SYNs DNATed to a pending reservation's host, which their handshake may then consume. */
  synsForwarded: number;
  kernelOps: number;
  kernelOpFailures: number;
}

export const emptyStats = (): DataplaneStats => ({
  confirmed: 0,
  refused: 0,
  unparsable: 0,
  stolenRefused: 0,
  handshakeRefused: 0,
  synsForwarded: 0,
  kernelOps: 0,
  kernelOpFailures: 0,
});

/** Percentiles (ms) of the recent times from a reservation to its consumption reaching the pool. */
export interface ConfirmLag {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface Confirmation {
  /**
   * Opens what delivers first packets or their events. The kernel state is installed already; on failure,
   * whatever this opened is closed again before it throws.
   */
  start(): Promise<void>;
  /**
   * Present only in a mode that must prepare the kernel for each reservation: the DNS answer waits for the
   * returned promise, so the first packet cannot arrive before the kernel can confirm it.
   */
  readonly reserve?: (r: Reservation) => Promise<void> | undefined;
  /** Reads what the kernel counted into stats (on demand, for /stats). */
  refreshKernelCounters(): Promise<void>;
  confirmLag(): ConfirmLag | undefined;
  /** A reload installed `model` (same mode, queue and table; hosts may differ). */
  modelChanged?(model: DataplaneModel): void;
  /** What the strategy itself holds in the kernel and finds missing (nfqueue: the queue binding). */
  verify(): Promise<Drift[]>;
  /**
   * Mark the moment the kernel state was installed again by a drift repair: what the strategy put in the
   * kernel before it is gone or in doubt. Called synchronously right after the install resolved.
   */
  kernelReplaced(): void;
  /**
   * After a repair's full install: re-establishes what the strategy needs beyond the rendered state
   * (nfqueue: the queue binding if `drift` says it is gone; nftset: the live reservations' elements).
   */
  resync(drift: readonly Drift[]): Promise<void>;
  /** Closes what start() opened; every packet queued so far has had its verdict. */
  stop(): Promise<void>;
}

/** What every strategy works with; it writes its counts into `stats`. */
export interface ConfirmationDeps {
  model: DataplaneModel;
  pool: CircularPool;
  now: () => number;
  log: Logger;
  stats: DataplaneStats;
}
