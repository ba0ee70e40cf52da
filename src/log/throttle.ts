/**
 * Error logging for paths an outsider can trigger once per packet: each kind of error is written at most once
 * per interval, and the line says how many were left unwritten since the previous one. Time is injected so the
 * schedule is testable; nothing runs in the background, so a count still pending when errors stop is written
 * by flush() (on stop) or with the next error of that kind.
 */

export interface LogSink {
  error(obj: object, msg: string): void;
}

interface Kind {
  /** When the last line for this kind was written. */
  loggedAt: number;
  /** Occurrences since then that were counted, not written. */
  suppressed: number;
  msg: string;
}

/** Distinct kinds remembered at most; kinds are names chosen in code, so this only guards against misuse. */
const MAX_KINDS = 256;

export class ThrottledLog {
  private readonly kinds = new Map<string, Kind>();

  constructor(
    private readonly sink: LogSink,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records one occurrence of `kind`; writes a line only when its interval has passed since the last one. */
  error(kind: string, fields: object, msg: string): void {
    const now = this.now();
    let k = this.kinds.get(kind);
    if (!k) {
      if (this.kinds.size >= MAX_KINDS) kind = 'other';
      k = this.kinds.get(kind);
      if (!k) {
        k = { loggedAt: now, suppressed: 0, msg };
        this.kinds.set(kind, k);
        this.sink.error({ ...fields, kind }, msg);
        return;
      }
    }
    if (now - k.loggedAt < this.intervalMs) {
      k.suppressed++;
      return;
    }
    this.sink.error({ ...fields, kind, suppressed: k.suppressed }, msg);
    k.loggedAt = now;
    k.suppressed = 0;
    k.msg = msg;
  }

  /** Writes the counts still pending (one line per kind that has some). */
  flush(): void {
    for (const [kind, k] of this.kinds) {
      if (k.suppressed === 0) continue;
      this.sink.error({ kind, suppressed: k.suppressed }, `${k.msg} (repeats since the last line)`);
      k.suppressed = 0;
      k.loggedAt = this.now();
    }
  }

  /** Occurrences of `kind` counted but not yet written. */
  pending(kind: string): number {
    return this.kinds.get(kind)?.suppressed ?? 0;
  }
}
