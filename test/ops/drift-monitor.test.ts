// DriftMonitor's bookkeeping with scripted parts (no kernel): counters, one warning per episode, readiness
// `kernel` false from the drift until a repair succeeds, a failed repair retried at the next check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/log.js';
import type { Drift } from '../../src/dataplane/kernel-verify.js';
import { DriftMonitor, type DriftPart } from '../../src/ops/drift-monitor.js';
import { emptyOperatorCounters } from '../../src/ops/operator-counters.js';
import { Readiness } from '../../src/ops/readiness.js';

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_o: unknown, msg?: string) => lines.push({ level, msg: msg ?? '' });
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), trace: at('trace') } as unknown as Logger;
  return { log, lines };
}

/** A part whose kernel is `drift` until a repair succeeds; `failures` repairs fail first. */
function scripted(failures = 0) {
  const state = { drift: [] as Drift[], repairs: 0, failures, seen: [] as Drift[][] };
  const part: DriftPart = {
    name: 'dataplane',
    verify: async () => state.drift,
    repair: async (d) => {
      state.seen.push([...d]);
      if (state.failures-- > 0) throw new Error('nft -f failed');
      state.repairs++;
      state.drift = [];
    },
  };
  return { part, state };
}

function monitor(parts: DriftPart[]) {
  const counters = emptyOperatorCounters();
  const readiness = new Readiness(() => 0);
  readiness.set('kernel', true, 'installed');
  const { log, lines } = recordingLog();
  const order: string[] = [];
  const serialize = async <T>(fn: () => Promise<T>) => {
    order.push('serialized');
    return fn();
  };
  const m = new DriftMonitor({ parts, serialize, counters: counters.drift, readiness, log, intervalMs: 0 });
  return { m, counters, readiness, lines, order };
}

describe('DriftMonitor', () => {
  it('a clean check counts a check and nothing else', async () => {
    const { part } = scripted();
    const { m, counters, readiness, order } = monitor([part]);
    assert.deepEqual(await m.check(), { ok: true, drift: [], repair: 'none' });
    assert.deepEqual(counters.drift, { checks: 1, found: 0, repaired: 0, repairFailed: 0 });
    assert.equal(readiness.ready(), true);
    assert.deepEqual(order, ['serialized'], 'every check goes through serialize');
  });

  it('drift: warned, counted, repaired with what was found, readiness back to true', async () => {
    const { part, state } = scripted();
    const { m, counters, readiness, lines } = monitor([part]);
    const changes: boolean[] = [];
    readiness.onChange((r) => changes.push(r));
    state.drift = [{ part: 'nft', what: 'nft table ip realmgw is missing' }];
    const r = await m.check();
    assert.deepEqual(r, { ok: false, drift: ['nft table ip realmgw is missing'], repair: 'repaired' });
    assert.deepEqual(state.seen, [[{ part: 'nft', what: 'nft table ip realmgw is missing' }]]);
    assert.deepEqual(counters.drift, { checks: 1, found: 1, repaired: 1, repairFailed: 0 });
    assert.deepEqual(changes, [false, true], 'not ready while drifted, ready once repaired');
    assert.equal(readiness.view().kernel!.reason, 'repaired');
    assert.equal(lines.filter((l) => l.level === 'warn' && /drifted/.test(l.msg)).length, 1);
  });

  it('a failed repair keeps readiness false, is tried again, and the episode warns once', async () => {
    const { part, state } = scripted(2);
    const { m, counters, readiness, lines } = monitor([part]);
    state.drift = [{ part: 'iptables', what: 'iptables chain mangle/RGW-QUEUE is missing' }];
    assert.equal((await m.check()).repair, 'failed');
    assert.equal(readiness.ready(), false);
    assert.match(readiness.view().kernel!.reason, /^drift: iptables chain mangle\/RGW-QUEUE is missing$/);
    assert.equal((await m.check()).repair, 'failed');
    assert.equal((await m.check()).repair, 'repaired');
    assert.equal(readiness.ready(), true);
    assert.deepEqual(counters.drift, { checks: 3, found: 1, repaired: 1, repairFailed: 2 });
    assert.equal(lines.filter((l) => l.level === 'warn' && /drifted/.test(l.msg)).length, 1, 'one warning per episode');
    assert.equal(lines.filter((l) => l.level === 'error').length, 1, 'one error per episode');
    // a new episode warns again
    state.drift = [{ part: 'nft', what: 'x' }];
    await m.check();
    assert.equal(lines.filter((l) => l.level === 'warn' && /drifted/.test(l.msg)).length, 2);
    assert.equal(counters.drift.found, 2);
  });

  it('a kernel that cannot be read: reported, logged once, nothing repaired, readiness left alone', async () => {
    const { part } = scripted();
    let fail = true;
    const unreadable: DriftPart = { ...part, verify: async () => (fail ? Promise.reject(new Error('nft: Operation not permitted')) : []) };
    const { m, counters, readiness, lines } = monitor([unreadable]);
    assert.deepEqual(await m.check(), { ok: false, drift: [], repair: 'none', error: 'nft: Operation not permitted' });
    await m.check();
    assert.equal(lines.filter((l) => l.level === 'error').length, 1);
    assert.equal(readiness.ready(), true);
    assert.deepEqual(counters.drift, { checks: 2, found: 0, repaired: 0, repairFailed: 0 });
    fail = false;
    assert.equal((await m.check()).ok, true);
  });

  it('only the parts that drifted are repaired', async () => {
    const a = scripted();
    const b = scripted();
    const { m } = monitor([a.part, b.part]);
    b.state.drift = [{ part: 'workers', what: 'nft table ip realmgw_workers is missing' }];
    await m.check();
    assert.equal(a.state.seen.length, 0);
    assert.equal(b.state.seen.length, 1);
  });

  it('a check asked for while one runs joins it', async () => {
    const { part } = scripted();
    const { m, counters } = monitor([part]);
    const [x, y] = await Promise.all([m.check(), m.check()]);
    assert.equal(x, y);
    assert.equal(counters.drift.checks, 1);
  });
});
