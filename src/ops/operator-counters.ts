/**
 * What the operator surface counts about the gateway's own life (reloads, drift repairs), read at scrape time
 * by /metrics and /stats. Plain numbers on the hot path's side: nobody pays for them but the scrape.
 */
export interface OperatorCounters {
  reloads: { succeeded: number; failed: number; unchanged: number };
  /** Seconds since the epoch of the last successful reload (0: none yet), Prometheus' `_timestamp_seconds` habit. */
  lastReloadSuccessSeconds: number;
  drift: { checks: number; found: number; repaired: number; repairFailed: number };
}

export const emptyOperatorCounters = (): OperatorCounters => ({
  reloads: { succeeded: 0, failed: 0, unchanged: 0 },
  lastReloadSuccessSeconds: 0,
  drift: { checks: 0, found: 0, repaired: 0, repairFailed: 0 },
});
