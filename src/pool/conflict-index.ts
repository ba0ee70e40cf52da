/**
 * For each flow key recently asked for, a bitset over address positions: bit i is set iff address i holds a
 * live reservation whose key can overlap that key. Finding the first usable address at or after the cursor is
 * then one `nextClearWrapping`, whatever the pool's size or fill. Bitsets are kept for at most `maxKeys` keys
 * (least recently used dropped); a key seen again is rebuilt from the live reservations in O(live).
 */
import { type FlowKey, flowKeyCode, keysCanOverlap } from './flow-key.js';
import { RingBitset } from './ring-bitset.js';

/** The part of a pool entry the index needs: its key, its address position, the next entry there. */
export interface IndexedEntry {
  readonly key: FlowKey;
  readonly index: number;
  readonly next: IndexedEntry | undefined;
}

interface KeyConflicts {
  readonly key: FlowKey;
  readonly code: number;
  readonly conflicts: RingBitset;
  lastUsed: number;
}

export class ConflictIndex {
  private readonly byCode = new Map<number, KeyConflicts>();
  private readonly tracked: KeyConflicts[] = [];
  private tick = 0;

  constructor(
    private readonly size: number,
    private readonly maxKeys: number,
  ) {}

  /** The conflict bitset of `key`, built from `live()` when the key is not tracked yet. */
  bitsetFor(key: FlowKey, live: () => Iterable<IndexedEntry>): RingBitset {
    const code = flowKeyCode(key);
    let tracked = this.byCode.get(code);
    if (tracked === undefined) {
      if (this.tracked.length >= this.maxKeys) this.evictLeastRecentlyUsed();
      tracked = { key: { protocol: key.protocol, port: key.port }, code, conflicts: new RingBitset(this.size), lastUsed: 0 };
      for (const entry of live()) {
        if (keysCanOverlap(tracked.key, entry.key)) tracked.conflicts.set(entry.index);
      }
      this.byCode.set(code, tracked);
      this.tracked.push(tracked);
    }
    tracked.lastUsed = ++this.tick;
    return tracked.conflicts;
  }

  /** Like bitsetFor, but changes nothing: an untracked key gets a throwaway bitset, a tracked one keeps its age. */
  peekBitset(key: FlowKey, live: () => Iterable<IndexedEntry>): RingBitset {
    const tracked = this.byCode.get(flowKeyCode(key));
    if (tracked !== undefined) return tracked.conflicts;
    const conflicts = new RingBitset(this.size);
    for (const entry of live()) {
      if (keysCanOverlap(key, entry.key)) conflicts.set(entry.index);
    }
    return conflicts;
  }

  /** A live entry was linked at its address. */
  added(entry: IndexedEntry): void {
    for (const tracked of this.tracked) {
      if (keysCanOverlap(tracked.key, entry.key)) tracked.conflicts.set(entry.index);
    }
  }

  /** An entry left its address; `remaining` is the head of the entries still live there. */
  removed(entry: IndexedEntry, remaining: IndexedEntry | undefined): void {
    for (const tracked of this.tracked) {
      if (!keysCanOverlap(tracked.key, entry.key)) continue;
      if (!anyOverlaps(tracked.key, remaining)) tracked.conflicts.clear(entry.index);
    }
  }

  /** Number of keys with a bitset (for tests and stats). */
  get trackedKeys(): number {
    return this.tracked.length;
  }

  private evictLeastRecentlyUsed(): void {
    let oldest = 0;
    for (let i = 1; i < this.tracked.length; i++) {
      if (this.tracked[i].lastUsed < this.tracked[oldest].lastUsed) oldest = i;
    }
    this.byCode.delete(this.tracked[oldest].code);
    this.tracked.splice(oldest, 1);
  }
}

function anyOverlaps(key: FlowKey, head: IndexedEntry | undefined): boolean {
  for (let e = head; e !== undefined; e = e.next) {
    if (keysCanOverlap(key, e.key)) return true;
  }
  return false;
}
