/**
 * Live reservations per requester, for the budget check (admission.ts). The caller adds a party when its
 * reservation is made and removes it once when the reservation ends (consumed, expired or cancelled). Memory is
 * bounded by the live reservations: a requester holding none has no entry.
 */
import type { Party } from './pbra.js';

export class RequesterHoldings {
  private readonly counts = new Map<number, number>();

  held(party: Pick<Party, 'requester'>): number {
    return this.counts.get(party.requester) ?? 0;
  }

  add(party: Pick<Party, 'requester'>): void {
    this.counts.set(party.requester, this.held(party) + 1);
  }

  remove(party: Pick<Party, 'requester'>): void {
    const n = this.held(party);
    if (n <= 1) this.counts.delete(party.requester);
    else this.counts.set(party.requester, n - 1);
  }

  /** Requesters holding at least one reservation. */
  get size(): number {
    return this.counts.size;
  }
}
