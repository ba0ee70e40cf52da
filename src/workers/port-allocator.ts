/**
 * The public ports of one protocol: free, leased or cooling down. A free port is drawn uniformly at random
 * (O(1): an array of free ports, swap-removal); a released port waits in a FIFO until its cool-down ends.
 * The FIFO stays sorted because every release uses the same cool-down and the caller's clock never goes back.
 */
export type RandomInt = (min: number, max: number) => number;

const OUTSIDE = 0;
const FREE = 1;
const LEASED = 2;
const COOLING = 3;

export type PortState = 'outside' | 'free' | 'leased' | 'cooling';
const NAMES: readonly PortState[] = ['outside', 'free', 'leased', 'cooling'];

export interface CoolDown {
  port: number;
  until: number;
}

export class PortAllocator {
  private readonly states = new Uint8Array(65536);
  private readonly free: number[] = [];
  private readonly freeIndex = new Int32Array(65536).fill(-1);
  private readonly cooling: CoolDown[] = [];
  private head = 0;

  constructor(start: number, end: number) {
    for (let p = start; p <= end; p++) this.addFree(p);
  }

  stateOf(port: number): PortState {
    return NAMES[this.states[port] ?? OUTSIDE] ?? 'outside';
  }

  get freeCount(): number {
    return this.free.length;
  }

  get coolingCount(): number {
    return this.cooling.length - this.head;
  }

  /** Ports whose cool-down ended at or before `now` become free. */
  promote(now: number): void {
    while (this.head < this.cooling.length && this.cooling[this.head].until <= now) {
      const { port } = this.cooling[this.head++];
      this.addFree(port);
    }
    if (this.head > 1024 && this.head * 2 > this.cooling.length) {
      this.cooling.splice(0, this.head);
      this.head = 0;
    }
  }

  /** A free port chosen by `random`, now leased. The caller checks freeCount first. */
  take(random: RandomInt): number {
    const n = this.free.length;
    if (n === 0) throw new Error('port allocator: no free port');
    const i = random(0, n);
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`port allocator: random(0, ${n}) returned ${i}`);
    const port = this.free[i];
    this.removeFree(port);
    this.states[port] = LEASED;
    return port;
  }

  /** Leases a specific free port (restoring saved state). */
  claim(port: number): void {
    if (this.states[port] !== FREE) throw new Error(`port allocator: port ${port} is ${this.stateOf(port)}, not free`);
    this.removeFree(port);
    this.states[port] = LEASED;
  }

  /** A leased port starts its cool-down; `until` must not be before any earlier release's. */
  release(port: number, until: number): void {
    if (this.states[port] !== LEASED) throw new Error(`port allocator: port ${port} is ${this.stateOf(port)}, not leased`);
    this.states[port] = COOLING;
    this.cooling.push({ port, until });
  }

  /** Puts a free port in cool-down (restoring saved state); calls must come in order of `until`. */
  coolDown(port: number, until: number): void {
    this.claim(port);
    this.release(port, until);
  }

  /** The cool-downs still running at `now`, oldest first. */
  coolDowns(now: number): CoolDown[] {
    const out: CoolDown[] = [];
    for (let i = this.head; i < this.cooling.length; i++) {
      if (this.cooling[i].until > now) out.push({ ...this.cooling[i] });
    }
    return out;
  }

  private addFree(port: number): void {
    this.states[port] = FREE;
    this.freeIndex[port] = this.free.length;
    this.free.push(port);
  }

  private removeFree(port: number): void {
    const i = this.freeIndex[port];
    const last = this.free.pop()!;
    if (last !== port) {
      this.free[i] = last;
      this.freeIndex[last] = i;
    }
    this.freeIndex[port] = -1;
  }
}
