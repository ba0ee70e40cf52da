/**
 * A fixed-size bitset with summary levels (a bit one level up is set iff the 32-bit word below is full), so
 * the first clear bit at or after a position is found in O(log32 size): 4 levels for 2^20 bits, 1/8 byte
 * per bit plus about 3%. Bits past `size` are kept set, so they are never found.
 */
export class RingBitset {
  private readonly levels: Uint32Array[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`bitset size must be a positive integer, got ${size}`);
    let bits = size;
    do {
      const words = Math.ceil(bits / 32);
      const level = new Uint32Array(words);
      const used = bits & 31;
      if (used !== 0) level[words - 1] = (0xffffffff << used) >>> 0;
      this.levels.push(level);
      bits = words;
    } while (bits > 1);
  }

  has(i: number): boolean {
    return ((this.levels[0][i >>> 5] >>> (i & 31)) & 1) === 1;
  }

  set(i: number): void {
    let pos = i;
    for (const level of this.levels) {
      const w = pos >>> 5;
      const before = level[w];
      const after = (before | (1 << (pos & 31))) >>> 0;
      level[w] = after;
      if (after !== 0xffffffff || before === 0xffffffff) return;
      pos = w;
    }
  }

  clear(i: number): void {
    let pos = i;
    for (const level of this.levels) {
      const w = pos >>> 5;
      const before = level[w];
      level[w] = (before & ~(1 << (pos & 31))) >>> 0;
      if (before !== 0xffffffff) return;
      pos = w;
    }
  }

  /** First clear bit at or after `from`, or -1. */
  nextClear(from: number): number {
    if (from >= this.size) return -1;
    const levels = this.levels;
    let depth = 0;
    let pos = from;
    for (;;) {
      const level = levels[depth];
      const w = pos >>> 5;
      if (w >= level.length) return -1;
      const clear = ~level[w] & (-1 << (pos & 31));
      if (clear !== 0) {
        pos = (w << 5) | ctz(clear);
        break;
      }
      depth++;
      if (depth === levels.length) return -1;
      pos = w + 1;
    }
    while (depth > 0) {
      depth--;
      pos = (pos << 5) | ctz(~levels[depth][pos]);
    }
    return pos;
  }

  /** First clear bit at or after `from`, wrapping around to 0; -1 when every bit is set. */
  nextClearWrapping(from: number): number {
    const found = this.nextClear(from);
    return found >= 0 || from === 0 ? found : this.nextClear(0);
  }
}

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}
