import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PLAN_MARGIN_MS, planReservation, TARGET_HOLD_MS } from '../../src/dataplane/reservation-plan.js';

const A = 0xc0a80064; // 192.168.0.100
const B = 0xc0a80065;

describe('planReservation (nftset: what one reservation needs in the kernel)', () => {
  it('a fresh slot: map element with a long hold, then the pending marker', () => {
    const p = planReservation(undefined, A, 2000, 10_000);
    assert.deepEqual(
      { clearPending: p.clearPending, clearTarget: p.clearTarget, addTargetMs: p.addTargetMs, pendingMs: p.pendingMs },
      { clearPending: false, clearTarget: false, addTargetMs: 2000 + TARGET_HOLD_MS, pendingMs: 2000 },
    );
    assert.deepEqual(p.next, { target: A, mapUntil: 10_000 + 2000 + TARGET_HOLD_MS, pendingUntil: 12_000, consumed: false });
  });

  it('the same host again, consumed before: only a new pending marker (the map element outlives it)', () => {
    const first = planReservation(undefined, A, 2000, 0).next;
    const p = planReservation({ ...first, consumed: true }, A, 2000, 500);
    assert.deepEqual([p.clearPending, p.clearTarget, p.addTargetMs], [false, false, undefined]);
    assert.equal(p.next.mapUntil, first.mapUntil, 'the kernel does not refresh a re-added element: the expiry stays');
  });

  it('the map element would expire during the new reservation: removed and added afresh, never just re-added', () => {
    const first = planReservation(undefined, A, 2000, 0).next;
    const late = first.mapUntil - 2000 - PLAN_MARGIN_MS + 1; // it would not outlive the new reservation by the margin
    const p = planReservation({ ...first, consumed: true }, A, 2000, late);
    assert.deepEqual([p.clearTarget, p.addTargetMs], [true, 2000 + TARGET_HOLD_MS]);
    assert.equal(p.next.mapUntil, late + 2000 + TARGET_HOLD_MS);
  });

  it('another host: the old map element is removed first (a different value for the key would be refused)', () => {
    const first = planReservation(undefined, A, 2000, 0).next;
    const p = planReservation({ ...first, consumed: true }, B, 2000, 100);
    assert.deepEqual([p.clearTarget, p.addTargetMs, p.next.target], [true, 2000 + TARGET_HOLD_MS, B]);
  });

  it('a pending marker an earlier reservation left alive (not consumed) is removed first', () => {
    const first = planReservation(undefined, A, 2000, 0).next;
    assert.equal(planReservation(first, A, 2000, 300).clearPending, true, 'cancelled or released without a packet');
    assert.equal(planReservation(first, A, 2000, 2000 + PLAN_MARGIN_MS + 1).clearPending, false, 'certainly timed out');
    assert.equal(planReservation({ ...first, consumed: true }, A, 2000, 300).clearPending, false, 'consumed by its packet');
  });

  it('an expired map element needs no removal; one that may still be there does', () => {
    const first = planReservation(undefined, A, 1000, 0, 1000).next; // mapUntil 2000
    assert.equal(planReservation({ ...first, consumed: true }, B, 1000, 2000 + PLAN_MARGIN_MS + 1, 1000).clearTarget, false);
    assert.equal(planReservation({ ...first, consumed: true }, B, 1000, 2500, 1000).clearTarget, true);
  });
});
