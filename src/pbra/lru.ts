/**
 * A bounded map that forgets the least recently seen entry, in two areas so that unproven sources cannot
 * push out proven ones: an entry first seen from an unproven source (a spoofable plain UDP query) lives in
 * the probation area (a quarter of the capacity, at least 1); an entry seen from a proven source lives in, or
 * moves to, the proven area (the rest). A flood of spoofed sources churns probation only.
 * Recency is the Map's insertion order: touching an entry re-inserts it at the end.
 */
export class TwoAreaLru<K, V> {
  private readonly proven = new Map<K, V>();
  private readonly probation = new Map<K, V>();
  /** The proven area's most recently seen key: touching it again needs no re-insertion (the common case). */
  private newest: K | undefined;
  readonly provenCapacity: number;
  readonly probationCapacity: number;

  constructor(
    capacity: number,
    private readonly onEvict: (key: K, value: V) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`capacity must be an integer >= 2, not ${capacity}`);
    this.probationCapacity = Math.max(1, Math.floor(capacity / 4));
    this.provenCapacity = capacity - this.probationCapacity;
  }

  get size(): number {
    return this.proven.size + this.probation.size;
  }

  get sizes(): { proven: number; probation: number } {
    return { proven: this.proven.size, probation: this.probation.size };
  }

  /** The value, marked as just seen (and moved to the proven area when `proven`). */
  touch(key: K, proven: boolean): V | undefined {
    let value = this.proven.get(key);
    if (value !== undefined) {
      if (key !== this.newest) {
        this.proven.delete(key);
        this.proven.set(key, value);
        this.newest = key;
      }
      return value;
    }
    value = this.probation.get(key);
    if (value === undefined) return undefined;
    this.probation.delete(key);
    if (proven) this.insert(this.proven, this.provenCapacity, key, value);
    else this.probation.set(key, value);
    return value;
  }

  /** The value without marking it seen. */
  peek(key: K): V | undefined {
    return this.proven.get(key) ?? this.probation.get(key);
  }

  /** Adds a new entry (the caller checked it is absent), evicting the area's least recently seen one when full. */
  add(key: K, value: V, proven: boolean): void {
    if (proven) this.insert(this.proven, this.provenCapacity, key, value);
    else this.insert(this.probation, this.probationCapacity, key, value);
  }

  /** Points an existing key at another value, keeping its place. */
  replace(key: K, value: V): void {
    if (this.proven.has(key)) this.proven.set(key, value);
    else if (this.probation.has(key)) this.probation.set(key, value);
  }

  *entries(): IterableIterator<[K, V]> {
    yield* this.proven;
    yield* this.probation;
  }

  *values(): IterableIterator<V> {
    yield* this.proven.values();
    yield* this.probation.values();
  }

  private insert(area: Map<K, V>, capacity: number, key: K, value: V): void {
    area.set(key, value);
    if (area === this.proven) this.newest = key;
    while (area.size > capacity) {
      const oldest = area.keys().next().value as K;
      const gone = area.get(oldest) as V;
      area.delete(oldest);
      this.onEvict(oldest, gone);
    }
  }
}
