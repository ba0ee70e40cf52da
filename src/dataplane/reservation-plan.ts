/**
 * nftset confirmation: which kernel elements one new reservation needs, given what the previous reservation of
 * the same (address, protocol, port) slot left there. Pure; time is passed in (ms, the gateway's monotonic
 * clock).
 *
 * Re-adding an nft set element that exists does NOT refresh its timeout (measured: kernel 6.18, nft 1.0.6),
 * so an element's expiry is fixed when it is first added:
 * - the target map element (slot -> host) is added with a long hold and reused, unchanged, by every later
 *   reservation of the slot for the same host that it outlives; when it would expire during the new
 *   reservation, or the host differs, it is removed and added afresh;
 * - a pending marker an earlier reservation left alive (cancelled, or not consumed yet when it ended) is
 *   removed first, otherwise the new reservation's marker would keep the old, earlier expiry.
 */

/** What the kernel holds for one slot, as far as realmgw knows (its own estimates of the expiries). */
export interface SlotState {
  target: number;
  /** The target map element exists until about then. */
  mapUntil: number;
  /** The pending marker of the last reservation lives until about then, unless consumed. */
  pendingUntil: number;
  /** The last reservation's marker was consumed by a packet (the pool heard of it). */
  consumed: boolean;
}

export interface ReservationPlan {
  clearPending: boolean;
  /** Remove the map element (holding `state.target`) before adding a new one. */
  clearTarget: boolean;
  /** Add the map element with this timeout (ms); undefined: the existing one serves. */
  addTargetMs: number | undefined;
  /** The pending marker's timeout (ms). */
  pendingMs: number;
  next: SlotState;
}

/** How long a target map element is kept for reuse beyond the reservation that added it. */
export const TARGET_HOLD_MS = 30_000;
/**
 * Our estimates start before the kernel's clocks do (the transaction commits a little later), and a packet
 * that found its pending marker must still find the map: keep this much margin on both sides.
 */
export const PLAN_MARGIN_MS = 1000;

export function planReservation(state: SlotState | undefined, target: number, lifetimeMs: number, now: number, holdMs = TARGET_HOLD_MS): ReservationPlan {
  const pendingMs = Math.ceil(lifetimeMs);
  const needMapUntil = now + pendingMs + PLAN_MARGIN_MS;
  const clearPending = state !== undefined && !state.consumed && state.pendingUntil + PLAN_MARGIN_MS > now;
  const reuse = state !== undefined && state.target === target && state.mapUntil > needMapUntil;
  const mayExist = state !== undefined && state.mapUntil + PLAN_MARGIN_MS > now;
  const addTargetMs = reuse ? undefined : pendingMs + holdMs;
  return {
    clearPending,
    clearTarget: !reuse && mayExist,
    addTargetMs,
    pendingMs,
    next: {
      target,
      mapUntil: reuse ? state!.mapUntil : now + addTargetMs!,
      pendingUntil: now + pendingMs,
      consumed: false,
    },
  };
}
