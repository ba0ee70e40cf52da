import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { transportAddress } from '../../src/stun/address.js';
import { decode, encode } from '../../src/stun/codec.js';
import { MAGIC_COOKIE } from '../../src/stun/constants.js';
import { normalizeRetransmit, retransmitSchedule, StunTransactions, type SendFn, type Timers } from '../../src/stun/transaction.js';

/** Manual clock: timers fire only when the test advances time. */
class FakeTimers implements Timers {
  t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.due.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.due.delete(h as number);
  }
  now(): number {
    return this.t;
  }
  get pending(): number {
    return this.due.size;
  }
  /** Advance to `to`, firing due timers in order. */
  advance(to: number): void {
    for (;;) {
      const next = [...this.due.entries()].filter(([, d]) => d.at <= to).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = to;
  }
}

const SERVER = transportAddress('192.0.2.10', 3478);

function harness(opts = { timeoutMs: 1000, retries: 3, rtoMs: 100 }, sendError?: Error) {
  const timers = new FakeTimers();
  const sent: { at: number; bytes: Buffer }[] = [];
  const send: SendFn = (bytes, _to, done) => {
    sent.push({ at: timers.t, bytes });
    done(sendError ?? null);
  };
  return { timers, sent, tx: new StunTransactions(send, opts, timers) };
}

function answerTo(request: Buffer, cls: 'success' | 'error' = 'success'): Buffer {
  const d = decode(request);
  assert.ok(d.ok);
  return encode({
    classic: d.message.classic,
    cls,
    transactionId: d.message.transactionId,
    attributes: cls === 'success' ? [{ type: 'mapped-address', address: transportAddress('198.51.100.1', 4000) }] : [{ type: 'error-code', code: 420 }],
  });
}

describe('STUN transactions: retransmission schedule (RFC 5389 §7.2.1, capped)', () => {
  const table: [string, { timeoutMs: number; retries: number; rtoMs?: number }, number[]][] = [
    ['RFC-like: rto 500, doubling', { timeoutMs: 39_500, retries: 6, rtoMs: 500 }, [0, 500, 1500, 3500, 7500, 15500, 31500]],
    ['no retries', { timeoutMs: 1000, retries: 0 }, [0]],
    ['the budget cuts retransmissions', { timeoutMs: 1000, retries: 6, rtoMs: 300 }, [0, 300, 900]],
    ['retries capped at 6', { timeoutMs: 60_000, retries: 50, rtoMs: 10 }, [0, 10, 30, 70, 150, 310, 630]],
    ['default rto fits the retries into the budget', { timeoutMs: 800, retries: 2 }, [0, 100, 300]],
    ['default rto at most 500', { timeoutMs: 10_000, retries: 2 }, [0, 500, 1500]],
  ];
  for (const [name, opts, want] of table) it(name, () => assert.deepEqual(retransmitSchedule(opts), want));

  it('clamps nonsense budgets', () => {
    assert.deepEqual(normalizeRetransmit({ timeoutMs: -5, retries: -1 }), { timeoutMs: 10, retries: 0, rtoMs: 5 });
    assert.equal(normalizeRetransmit({ timeoutMs: Number.NaN, retries: 1 }).timeoutMs, 10);
    assert.equal(normalizeRetransmit({ timeoutMs: Number.POSITIVE_INFINITY, retries: 1 }).timeoutMs, 60_000);
    assert.equal(normalizeRetransmit({ timeoutMs: 1e9, retries: 1 }).timeoutMs, 60_000);
  });
});

describe('STUN transactions', () => {
  it('retransmits on schedule with the same id, then times out at the budget', async () => {
    const { timers, sent, tx } = harness();
    const outcome = tx.request(SERVER);
    timers.advance(999);
    assert.deepEqual(sent.map((s) => s.at), [0, 100, 300, 700]);
    assert.ok(sent.every((s) => s.bytes.equals(sent[0]!.bytes)), 'a retransmission is the same request');
    timers.advance(1000);
    const o = await outcome;
    assert.equal(o.kind, 'timeout');
    assert.equal(o.attempts, 4);
    assert.equal(o.ms, 1000);
    assert.equal(timers.pending, 0);
  });

  it('an answer ends the transaction: no more sends, timers cleared, round trip measured', async () => {
    const { timers, sent, tx } = harness();
    const outcome = tx.request(SERVER, { changeIp: true, changePort: true });
    timers.advance(150);
    tx.handle(answerTo(sent[0]!.bytes), { address: '192.0.2.11', port: 3479 });
    const o = await outcome;
    assert.equal(o.kind, 'response');
    if (o.kind !== 'response') return;
    assert.deepEqual(o.from, transportAddress('192.0.2.11', 3479));
    assert.equal(o.attempts, 2);
    assert.equal(o.ms, 150);
    assert.deepEqual(o.message.mappedAddress, transportAddress('198.51.100.1', 4000));
    assert.equal(timers.pending, 0);
    timers.advance(5000);
    assert.equal(sent.length, 2);
    const req = decode(sent[0]!.bytes);
    assert.ok(req.ok);
    assert.deepEqual(req.message.changeRequest, { changeIp: true, changePort: true });
    assert.equal(req.message.fingerprint, true);
  });

  it('error responses are answers too; strays, duplicates and requests are ignored', async () => {
    const { timers, sent, tx } = harness();
    const a = tx.request(SERVER);
    const b = tx.request(SERVER);
    tx.handle(Buffer.from('garbage'), SERVER);
    tx.handle(sent[0]!.bytes, SERVER); // our own request reflected back
    tx.handle(answerTo(sent[1]!.bytes, 'error'), SERVER);
    tx.handle(answerTo(sent[1]!.bytes), SERVER); // duplicate for a finished transaction
    const ob = await b;
    assert.equal(ob.kind === 'response' && ob.message.errorCode?.code, 420);
    tx.handle(answerTo(sent[0]!.bytes), SERVER);
    assert.equal((await a).kind, 'response');
    assert.equal(tx.unmatched, 3);
    timers.advance(10_000);
  });

  it('classic requests: 16-byte id that never starts with the magic cookie, no FINGERPRINT, answered in kind', async () => {
    const { sent, tx } = harness();
    const outcomes = Array.from({ length: 50 }, () => tx.request(SERVER, { classic: true, changePort: true }));
    for (const s of sent) {
      const d = decode(s.bytes);
      assert.ok(d.ok);
      assert.equal(d.message.classic, true);
      assert.equal(d.message.transactionId.length, 16);
      assert.notEqual(s.bytes.readUInt32BE(4), MAGIC_COOKIE);
      assert.equal(d.message.fingerprint, false);
      tx.handle(answerTo(s.bytes), SERVER);
    }
    for (const o of await Promise.all(outcomes)) assert.equal(o.kind, 'response');
  });

  it('send errors are counted and reported; the transaction still ends at its budget', async () => {
    const { timers, tx } = harness({ timeoutMs: 500, retries: 2, rtoMs: 100 }, new Error('ENETUNREACH'));
    const outcome = tx.request(SERVER);
    timers.advance(500);
    const o = await outcome;
    assert.equal(o.kind, 'timeout');
    if (o.kind === 'timeout') assert.deepEqual([o.attempts, o.sendErrors, o.lastError], [3, 3, 'ENETUNREACH']);
  });

  it('a send function that throws is a send error, not a crash', async () => {
    const timers = new FakeTimers();
    const tx = new StunTransactions(() => { throw new Error('bad port'); }, { timeoutMs: 100, retries: 0 }, timers);
    const outcome = tx.request(SERVER);
    timers.advance(100);
    const o = await outcome;
    assert.equal(o.kind === 'timeout' && o.lastError, 'bad port');
  });

  it('cancelAll ends open transactions', async () => {
    const { timers, tx } = harness();
    const outcome = tx.request(SERVER);
    tx.cancelAll();
    assert.equal((await outcome).kind, 'timeout');
    assert.equal(timers.pending, 0);
  });
});
