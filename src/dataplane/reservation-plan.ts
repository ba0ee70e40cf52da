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
 * A reservation bound to a client subnet puts its marker in the bound pending set and its binding (an
 * interval element `subnet . slot key`) in the binding set; an earlier binding of the slot that may still be
 * there is removed first: two bindings of one slot would overlap, which an interval set refuses.
 */

import { encodeAddress, encodeBindingKeys, encodeKey, type ElementOp } from './nft-elements.js';
import { bindingSet, boundPendingSet, keyShape, pendingSet, targetMap } from './ruleset.js';

/** A client subnet a reservation is bound to. */
export interface Binding {
  network: number;
  prefixLength: number;
}

/** What the kernel holds for one slot, as far as realmgw knows (its own estimates of the expiries). */
export interface SlotState {
  target: number;
  /** The target map element exists until about then. */
  mapUntil: number;
  /** The pending marker of the last reservation lives until about then, unless consumed. */
  pendingUntil: number;
  /** The last reservation's marker was consumed by a packet (the pool heard of it). */
  consumed: boolean;
  /** The last reservation's binding (its marker is in the bound pending set), if it had one. */
  binding?: Binding;
  /** Its binding element lives until about then. */
  bindUntil?: number;
}

export interface ReservationPlan {
  clearPending: boolean;
  /** The previous binding element to remove first. */
  clearBinding: Binding | undefined;
  /** The new reservation's binding (undefined: unbound). */
  binding: Binding | undefined;
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

export function planReservation(
  state: SlotState | undefined,
  target: number,
  lifetimeMs: number,
  now: number,
  holdMs = TARGET_HOLD_MS,
  binding?: Binding,
): ReservationPlan {
  const pendingMs = Math.ceil(lifetimeMs);
  const clearBinding = state?.binding !== undefined && (state.bindUntil ?? Infinity) + PLAN_MARGIN_MS > now ? state.binding : undefined;
  const needMapUntil = now + pendingMs + PLAN_MARGIN_MS;
  const clearPending = state !== undefined && !state.consumed && state.pendingUntil + PLAN_MARGIN_MS > now;
  const reuse = state !== undefined && state.target === target && state.mapUntil > needMapUntil;
  const mayExist = state !== undefined && state.mapUntil + PLAN_MARGIN_MS > now;
  const addTargetMs = reuse ? undefined : pendingMs + holdMs;
  return {
    clearPending,
    clearBinding,
    binding,
    clearTarget: !reuse && mayExist,
    addTargetMs,
    pendingMs,
    next: {
      target,
      mapUntil: reuse ? state!.mapUntil : now + addTargetMs!,
      pendingUntil: now + pendingMs,
      consumed: false,
      ...(binding ? { binding: { network: binding.network, prefixLength: binding.prefixLength }, bindUntil: now + pendingMs + PLAN_MARGIN_MS } : {}),
    },
  };
}

/** The slot a reservation occupies, as the kernel's sets key it. */
export interface SlotKey {
  address: number;
  protocol: number;
  port: number;
}

/** The element operations (one transaction) that carry out a plan; `previous` is what the slot held before. */
export function planOps(plan: ReservationPlan, slot: SlotKey, target: number, previousTarget: number | undefined, previousBound = false): ElementOp[] {
  const shape = keyShape(slot.protocol, slot.port);
  const key = encodeKey(shape, slot.address, slot.protocol, slot.port);
  const map = targetMap(shape);
  const ops: ElementOp[] = [];
  // "add, then delete" removes an element whether or not it is (still) there, in one transaction
  if (plan.clearPending) {
    const old = previousBound ? boundPendingSet(shape) : pendingSet(shape);
    ops.push({ kind: 'add', set: old, key }, { kind: 'delete', set: old, key });
  }
  if (plan.clearBinding) {
    const b = encodeBindingKeys(shape, plan.clearBinding, slot.address, slot.protocol, slot.port);
    ops.push({ kind: 'add', set: bindingSet(shape), ...b }, { kind: 'delete', set: bindingSet(shape), ...b });
  }
  if (plan.clearTarget) {
    if (previousTarget === undefined) throw new Error('planOps: clearing a target map element needs the target it holds');
    ops.push({ kind: 'add', set: map, key, data: encodeAddress(previousTarget) }, { kind: 'delete', set: map, key });
  }
  if (plan.addTargetMs !== undefined) ops.push({ kind: 'add', set: map, key, data: encodeAddress(target), timeoutMs: plan.addTargetMs });
  if (plan.binding) {
    // the binding outlives its marker: a packet that found the marker must find the binding
    ops.push({ kind: 'add', set: bindingSet(shape), ...encodeBindingKeys(shape, plan.binding, slot.address, slot.protocol, slot.port), timeoutMs: plan.pendingMs + PLAN_MARGIN_MS });
    ops.push({ kind: 'add', set: boundPendingSet(shape), key, timeoutMs: plan.pendingMs });
  } else {
    ops.push({ kind: 'add', set: pendingSet(shape), key, timeoutMs: plan.pendingMs });
  }
  return ops;
}

/**
 * Bare deletes of a slot's elements, each a transaction of its own (any may fail: nothing there); `bindings`
 * are the slot's bindings that may exist.
 */
export function slotDeleteOps(slot: SlotKey, bindings: readonly (Binding | undefined)[] = []): ElementOp[][] {
  const shape = keyShape(slot.protocol, slot.port);
  const key = encodeKey(shape, slot.address, slot.protocol, slot.port);
  const out: ElementOp[][] = [
    [{ kind: 'delete', set: pendingSet(shape), key }],
    [{ kind: 'delete', set: boundPendingSet(shape), key }],
    [{ kind: 'delete', set: targetMap(shape), key }],
  ];
  for (const b of bindings) {
    if (b) out.push([{ kind: 'delete', set: bindingSet(shape), ...encodeBindingKeys(shape, b, slot.address, slot.protocol, slot.port) }]);
  }
  return out;
}
