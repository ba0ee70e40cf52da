/**
 * Expiry order for held reservations: one FIFO per lifetime value. The pool's clock never goes backwards, so
 * expiresAt = createdAt + lifetime grows along each FIFO and the expired ones are always at the heads:
 * O(1) amortized per reservation. Released entries stay queued and are skipped when they reach a head.
 */
import { Fifo } from './fifo.js';

export interface Expiring {
  readonly released: boolean;
  readonly res: { readonly expiresAt: number };
}

/** Empty FIFOs are kept (no churn) until there are more than this many. */
const MAX_QUEUES_KEPT = 8;

export class ExpiryQueues<E extends Expiring> {
  private readonly queues: Fifo<E>[] = [];
  private readonly byLifetime = new Map<number, Fifo<E>>();

  /** `defaultLifetimeMs` keeps its FIFO for good. */
  constructor(private readonly defaultLifetimeMs: number) {
    this.queueFor(defaultLifetimeMs);
  }

  push(entry: E, lifetimeMs: number): void {
    this.queueFor(lifetimeMs).push(entry);
  }

  /** Dequeues and returns the unreleased entries with expiresAt <= t (undefined when none). */
  takeExpired(t: number): E[] | undefined {
    let expired: E[] | undefined;
    for (const queue of this.queues) {
      for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
        if (!head.released) {
          if (head.res.expiresAt > t) break;
          (expired ??= []).push(head);
        }
        queue.shift();
      }
    }
    if (this.queues.length > MAX_QUEUES_KEPT) this.dropEmptyQueues();
    return expired;
  }

  /** Earliest expiresAt among unreleased entries. */
  earliest(): number | undefined {
    let earliest: number | undefined;
    for (const queue of this.queues) {
      let head = queue.peek();
      while (head !== undefined && head.released) {
        queue.shift();
        head = queue.peek();
      }
      if (head !== undefined && (earliest === undefined || head.res.expiresAt < earliest)) earliest = head.res.expiresAt;
    }
    return earliest;
  }

  private queueFor(lifetimeMs: number): Fifo<E> {
    let queue = this.byLifetime.get(lifetimeMs);
    if (queue === undefined) {
      queue = new Fifo<E>();
      this.byLifetime.set(lifetimeMs, queue);
      this.queues.push(queue);
    }
    return queue;
  }

  private dropEmptyQueues(): void {
    for (const [lifetimeMs, queue] of this.byLifetime) {
      if (queue.length === 0 && lifetimeMs !== this.defaultLifetimeMs) {
        this.byLifetime.delete(lifetimeMs);
        this.queues.splice(this.queues.indexOf(queue), 1);
      }
    }
  }
}
