/**
 * NftChannel's ordering, group commit and retry rules, against a scripted libnftables binding (pure logic; the
 * real binding is exercised in kernel-state.kernel.test.ts and the end-to-end suites).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftChannel, type NftBinding } from '../../src/dataplane/nft.js';

type Verdict = { ok: boolean; error?: string };

/** A binding that records every transaction and answers each with `answer(commands, attempt)`, asynchronously. */
function scripted(answer: (commands: string, attempt: number) => Verdict) {
  const transactions: string[] = [];
  const attempts = new Map<string, number>();
  let opened = 0;
  let closed = 0;
  let inFlight = 0;
  const binding = {
    nftOpen: () => {
      opened++;
      return {} as never;
    },
    nftRun: (_h: unknown, commands: string, done: (ok: boolean, error: string, output: string) => void) => {
      assert.equal(inFlight, 0, 'one transaction at a time');
      inFlight++;
      transactions.push(commands);
      const n = (attempts.get(commands) ?? 0) + 1;
      attempts.set(commands, n);
      const v = answer(commands, n);
      setImmediate(() => {
        inFlight--;
        done(v.ok, v.error ?? '', '');
      });
    },
    nftClose: () => {
      closed++;
    },
  } satisfies NftBinding;
  return { binding, transactions, counts: () => ({ opened, closed }) };
}

describe('NftChannel', () => {
  it('merges runs queued behind the one in flight into one transaction, in call order', async () => {
    const s = scripted(() => ({ ok: true }));
    const ch = new NftChannel({ binding: s.binding });
    await Promise.all(['a', 'b', 'c', 'd'].map((x) => ch.run(`add element ip t s { ${x} }`)));
    assert.deepEqual(s.transactions, ['add element ip t s { a }', 'add element ip t s { b }; add element ip t s { c }; add element ip t s { d }']);
    await ch.close();
    assert.deepEqual(s.counts(), { opened: 1, closed: 1 });
  });

  it('a failed merged transaction is retried one run at a time; only the bad run fails', async () => {
    const s = scripted((c) => (c.includes('bad') ? { ok: false, error: 'Error: No such file or directory' } : { ok: true }));
    const ch = new NftChannel({ binding: s.binding });
    const results = await Promise.allSettled(['first', 'x', 'bad', 'y'].map((x) => ch.run(`cmd ${x}`)));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((results[2] as PromiseRejectedResult).reason), /No such file or directory/);
    assert.deepEqual(s.transactions, ['cmd first', 'cmd x; cmd bad; cmd y', 'cmd x', 'cmd bad', 'cmd y']);
    assert.equal(ch.stats.retried, 3);
  });

  it('EBUSY: the run is tried again after a pause, still ahead of everything queued behind it', async () => {
    let busyAttempts = 0;
    const s = scripted((c) => (c.startsWith('cmd busy') && ++busyAttempts < 3 ? { ok: false, error: 'Error: Could not process rule: Device or resource busy' } : { ok: true }));
    const ch = new NftChannel({ binding: s.binding, busyRetryMs: 1 });
    const order: string[] = [];
    const busy = ch.run('cmd busy').then(() => order.push('busy'));
    const later = ch.run('cmd later').then(() => order.push('later'));
    await Promise.all([busy, later]);
    assert.deepEqual(order, ['busy', 'later']);
    // the retry may carry the runs queued meanwhile, after it: one transaction, same order
    assert.deepEqual(s.transactions, ['cmd busy', 'cmd busy; cmd later', 'cmd busy; cmd later']);
    assert.equal(ch.stats.busy, 2);
  });

  it('EBUSY that does not clear fails the run after busyRetries', async () => {
    const s = scripted(() => ({ ok: false, error: 'Error: Could not process rule: Device or resource busy' }));
    const ch = new NftChannel({ binding: s.binding, busyRetries: 2, busyRetryMs: 1 });
    await assert.rejects(ch.run('cmd'), /Device or resource busy/);
    assert.equal(s.transactions.length, 3);
  });

  it('rejects multi-line blocks and runs after close; an empty run is a no-op', async () => {
    const s = scripted(() => ({ ok: true }));
    const ch = new NftChannel({ binding: s.binding });
    await assert.rejects(ch.run('add set ip t s {\ntype ipv4_addr; }'), /complete command/);
    await ch.run('# only a comment\n\n');
    assert.equal(s.transactions.length, 0);
    await ch.close();
    await assert.rejects(ch.run('cmd'), /closed/);
  });

  it('a binding that cannot open fails the runs with the reason', async () => {
    const binding: NftBinding = {
      nftOpen: () => {
        throw new Error('cannot enter network namespace /run/netns/x: No such file or directory');
      },
      nftRun: () => assert.fail('never runs'),
      nftClose: () => undefined,
    };
    const ch = new NftChannel({ binding, netns: 'x' });
    await assert.rejects(ch.run('cmd'), /cannot open the kernel channel: cannot enter network namespace/);
  });
});
