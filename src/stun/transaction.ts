// STUN client transactions over one UDP port: retransmission per RFC 5389 §7.2.1 (the interval doubles from
// the initial RTO), capped by a retry count and a hard time budget per transaction; answers matched by
// transaction id. Sending and timers are injected, so the schedule is testable without sockets or waiting.
import { randomBytes } from 'node:crypto';
import { transportAddress, type TransportAddress } from './address.js';
import { decode, encode, type StunMessage } from './codec.js';
import { CLASSIC_TXID_LENGTH, MAGIC_COOKIE, TXID_LENGTH } from './constants.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** ms clock for round-trip times (default performance.now) */
  now?(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => performance.now(),
};

export interface RetransmitOptions {
  /** time budget of one transaction, first send to giving up (clamped to 10..60000 ms) */
  timeoutMs: number;
  /** retransmissions after the first send (clamped to 0..6: at most RFC 5389's Rc = 7 sends) */
  retries: number;
  /** first retransmission interval; doubles after each retransmission (default: fits the retries into half the budget, at most 500) */
  rtoMs?: number;
}

export const MAX_RETRIES = 6;

export function normalizeRetransmit(o: RetransmitOptions): Required<RetransmitOptions> {
  const timeoutMs = clamp(o.timeoutMs, 10, 60_000);
  const retries = Math.floor(clamp(o.retries, 0, MAX_RETRIES));
  // sends at 0, rto, 3 rto, 7 rto, ...: the last of retries + 1 sends at (2^retries - 1) rto
  const rtoMs = clamp(o.rtoMs ?? Math.min(500, Math.floor(timeoutMs / 2 ** (retries + 1))), 1, timeoutMs);
  return { timeoutMs, retries, rtoMs };
}

/** Offsets (ms from the first send) of every send of one transaction; all before the budget ends. */
export function retransmitSchedule(o: RetransmitOptions): number[] {
  const { timeoutMs, retries, rtoMs } = normalizeRetransmit(o);
  const at = [0];
  for (let i = 0, t = 0, rto = rtoMs; i < retries; i++, rto *= 2) {
    t += rto;
    if (t >= timeoutMs) break;
    at.push(t);
  }
  return at;
}

export interface RequestSpec {
  /** RFC 3489 request (no cookie, 16-byte id) */
  classic?: boolean;
  changeIp?: boolean;
  changePort?: boolean;
  software?: string;
}

export type TransactionOutcome =
  | { kind: 'response'; message: StunMessage; from: TransportAddress; attempts: number; ms: number }
  | { kind: 'timeout'; attempts: number; ms: number; sendErrors: number; lastError?: string };

/** Sends one datagram; calls back with an error when it could not be sent. */
export type SendFn = (bytes: Buffer, to: TransportAddress, done: (err: Error | null) => void) => void;

interface Pending {
  resolve: (o: TransactionOutcome) => void;
  timers: unknown[];
  started: number;
  attempts: number;
}

export class StunTransactions {
  private readonly pending = new Map<string, Pending>();
  private readonly timers: Timers;
  private readonly now: () => number;
  /** datagrams that matched no transaction (late, duplicate, stray) */
  unmatched = 0;

  constructor(
    private readonly send: SendFn,
    private readonly retransmit: RetransmitOptions,
    timers: Timers = realTimers,
  ) {
    this.timers = timers;
    this.now = timers.now ? () => timers.now!() : () => performance.now();
  }

  /** Sends a Binding request to `to` and resolves with the answer (success or error response) or a timeout. Never rejects. */
  request(to: TransportAddress, spec: RequestSpec = {}): Promise<TransactionOutcome> {
    const id = transactionId(spec.classic === true);
    const bytes = encode({
      classic: spec.classic,
      cls: 'request',
      transactionId: id,
      attributes: [
        ...(spec.changeIp || spec.changePort ? [{ type: 'change-request', changeIp: !!spec.changeIp, changePort: !!spec.changePort } as const] : []),
        ...(spec.software && !spec.classic ? [{ type: 'software', value: spec.software } as const] : []),
      ],
      fingerprint: !spec.classic,
    });
    const key = id.toString('hex');
    const schedule = retransmitSchedule(this.retransmit);
    const { timeoutMs } = normalizeRetransmit(this.retransmit);
    return new Promise((resolve) => {
      let sendErrors = 0;
      let lastError: string | undefined;
      const p: Pending = { resolve, timers: [], started: this.now(), attempts: 0 };
      this.pending.set(key, p);
      const fire = () => {
        if (!this.pending.has(key)) return;
        p.attempts++;
        try {
          this.send(bytes, to, (err) => {
            if (err) {
              sendErrors++;
              lastError = err.message;
            }
          });
        } catch (err) {
          sendErrors++;
          lastError = err instanceof Error ? err.message : String(err);
        }
      };
      for (const offset of schedule.slice(1)) p.timers.push(this.timers.setTimeout(fire, offset));
      p.timers.push(
        this.timers.setTimeout(() => {
          this.finish(key, { kind: 'timeout', attempts: p.attempts, ms: this.now() - p.started, sendErrors, lastError });
        }, timeoutMs),
      );
      fire();
    });
  }

  /** Feed every datagram the socket receives. */
  handle(packet: Uint8Array, from: { address: string; port: number }): void {
    const d = decode(packet);
    if (!d.ok || (d.message.cls !== 'success' && d.message.cls !== 'error')) {
      this.unmatched++;
      return;
    }
    const key = d.message.transactionId.toString('hex');
    const p = this.pending.get(key);
    if (!p) {
      this.unmatched++;
      return;
    }
    this.finish(key, { kind: 'response', message: d.message, from: transportAddress(from.address, from.port), attempts: p.attempts, ms: this.now() - p.started });
  }

  /** Ends every open transaction as a timeout (used when the socket goes away). */
  cancelAll(): void {
    for (const [key, p] of [...this.pending]) {
      this.finish(key, { kind: 'timeout', attempts: p.attempts, ms: this.now() - p.started, sendErrors: 0, lastError: 'cancelled' });
    }
  }

  private finish(key: string, outcome: TransactionOutcome): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    for (const t of p.timers) this.timers.clearTimeout(t);
    p.resolve(outcome);
  }
}

/** A fresh random transaction id; a classic one never starts with the magic cookie (it would read as RFC 5389). */
function transactionId(classic: boolean): Buffer {
  if (!classic) return randomBytes(TXID_LENGTH);
  for (;;) {
    const id = randomBytes(CLASSIC_TXID_LENGTH);
    if (id.readUInt32BE(0) !== MAGIC_COOKIE) return id;
  }
}

const clamp = (v: number, lo: number, hi: number) => (typeof v !== 'number' || Number.isNaN(v) ? lo : Math.min(hi, Math.max(lo, v)));
