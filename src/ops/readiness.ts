/**
 * Whether the gateway should be given traffic (`/readyz`, systemd's READY=1): a set of named conditions, each
 * true or false with a reason. Ready only when every condition is true. Conditions are owned by the part that
 * knows them: `started` (the gateway, false while starting and while draining on SIGTERM), `kernel` (the data
 * plane: installed and verified; false after a failed drift repair), `dns` (listeners bound).
 *
 * Liveness (`/healthz`) is not here: a process that can answer is alive.
 */
export type Condition = 'started' | 'kernel' | 'dns';

export interface ConditionState {
  ok: boolean;
  /** Why it is not ok (or what it last was), for /readyz and the log. */
  reason: string;
  /** Monotonic milliseconds of the last change. */
  since: number;
}

export class Readiness {
  private readonly conditions = new Map<Condition, ConditionState>();
  private readonly listeners: ((ready: boolean) => void)[] = [];
  private last = false;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Declares a condition that must become true before the gateway is ready. */
  require(name: Condition, reason: string): void {
    if (!this.conditions.has(name)) this.set(name, false, reason);
  }

  set(name: Condition, ok: boolean, reason: string): void {
    const prev = this.conditions.get(name);
    if (prev && prev.ok === ok && prev.reason === reason) return;
    this.conditions.set(name, { ok, reason, since: this.now() });
    const ready = this.ready();
    if (ready !== this.last) {
      this.last = ready;
      for (const l of this.listeners) l(ready);
    }
  }

  ready(): boolean {
    if (this.conditions.size === 0) return false;
    for (const c of this.conditions.values()) if (!c.ok) return false;
    return true;
  }

  /** Every condition, for /readyz's body. */
  view(): Record<string, ConditionState> {
    return Object.fromEntries(this.conditions);
  }

  /** Called with the new value whenever ready() changes. */
  onChange(listener: (ready: boolean) => void): void {
    this.listeners.push(listener);
  }
}
