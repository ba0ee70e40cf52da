/**
 * Issue 8, behaviour under attack, end to end in namespaces: legitimate clients behind Debian's Unbound, the
 * gateway in gwa, attackers in public (test/support/attack/). Behaviour only: rates and success percentages
 * per phase are `npm run bench` rows (BENCH_ONLY=attack-phases,attack-alloc), never asserted here.
 *
 * The gateway runs with the demo's defences (DEFENCES.on in test/support/attack/defences.ts); the spoofed-query
 * and spoofed-SYN tests fail against a gateway without them (measured: 6 reservations from 300 spoofed
 * queries; the real client's connection refused after the spoofed SYNs), which is what proves they can fail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ADDR, POOL } from '../support/netns.js';
import { DIST_DIR } from '../support/repo.js';
import { startSpoofer } from '../support/attack/attackers.js';
import { DEFENCES } from '../support/attack/defences.js';
import { AttackBed, RESOLVER, SERVICE_NAMES, SPOOFED_SOURCES } from '../support/attack/phases.js';
import { phaseSettingsFromEnv } from '../support/attack/plan.js';

const FLOW_CLIENT = path.join(DIST_DIR, 'test', 'support', 'flow-client.js');
const SPOOFED_QUERIES = 300;

describe('attack suite (issue 8)', { timeout: 600_000 }, () => {
  let bed: AttackBed;

  /** Polls the gateway's /stats until `done` holds (the spoofed packets have been seen); bounded. */
  const until = async (what: string, done: (s: Awaited<ReturnType<AttackBed['gw']['stats']>>) => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await bed.gw.stats();
      if (done(s)) return s;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; /stats ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    bed = await AttackBed.up({ overrides: DEFENCES.on });
  });
  after(async () => {
    await bed?.down();
  });

  test('no attack: every legitimate flow succeeds', async (t) => {
    const r = await bed.runPhase('no-attack', phaseSettingsFromEnv());
    t.diagnostic(`${r.ok}/${r.flows} flows, ${r.retried} on a second try`);
    assert.equal(r.ok, r.flows, `failures: ${JSON.stringify(r.reasons)} ${JSON.stringify(r.firstFailures)}`);
    assert.equal(r.statsAfter.pool.consumed - r.statsBefore.pool.consumed, r.flows, 'each flow consumed exactly one reservation');
  });

  test('spoofed queries from random sources reach the gateway as well-formed queries', async () => {
    await bed.poolIdle();
    const before = await bed.gw.stats();
    const flood = await startSpoofer(bed.tb, 'public', { kind: 'dns', dst: [ADDR.gwaWan], ports: [53], names: SERVICE_NAMES, sources: SPOOFED_SOURCES, rate: 300, count: SPOOFED_QUERIES, seconds: 20 });
    const report = await flood.finished;
    assert.equal(report.sent, SPOOFED_QUERIES);
    const after = await until('spoofed queries counted', (s) => s.dns.wan.queriesUdp - before.dns.wan.queriesUdp >= SPOOFED_QUERIES);
    assert.equal(after.dns.wan.malformed, before.dns.wan.malformed, 'the spoofer builds valid DNS messages');
  });

  test('a spoofed query creates no reservation', async () => {
    await bed.poolIdle();
    const before = await bed.gw.stats();
    const flood = await startSpoofer(bed.tb, 'public', { kind: 'dns', dst: [ADDR.gwaWan], ports: [53], names: SERVICE_NAMES, sources: SPOOFED_SOURCES, rate: 300, count: SPOOFED_QUERIES, seconds: 20 });
    await flood.finished;
    const after = await until('spoofed queries counted', (s) => s.dns.wan.queriesUdp - before.dns.wan.queriesUdp >= SPOOFED_QUERIES);
    assert.equal(after.pool.reserved - before.pool.reserved, 0, `reservations made by spoofed queries: ${JSON.stringify(after.pool)}`);
  });

  test('a spoofed SYN does not consume a pending reservation', async () => {
    await bed.poolIdle();
    // web.hosta.gwa.demo: TCP port 80, a 5 s lifetime (policies/gwa.demo), so the reservation outlives the flood.
    const dig = await bed.tb.exec('public', 'dig', ['+short', '+tries=2', '+time=2', `@${RESOLVER}`, 'web.hosta.gwa.demo', 'A'], { check: true });
    const address = dig.stdout.trim().split('\n').pop() ?? '';
    assert.ok(POOL.includes(address), `resolved through Unbound: '${dig.stdout}'`);
    const rxBefore = await bed.wanRxPackets();
    const syns = await startSpoofer(bed.tb, 'public', { kind: 'syn', dst: [address], ports: [80], sources: SPOOFED_SOURCES, rate: 1000, count: 50, seconds: 5 });
    assert.equal((await syns.finished).sent, 50);
    // Every spoofed SYN is at the gateway (and, in NFQUEUE mode, ahead of ours in the queue) before we connect.
    const deadline = Date.now() + 5_000;
    while ((await bed.wanRxPackets()) - rxBefore < 50) {
      assert.ok(Date.now() < deadline, 'the spoofed SYNs reached gwa');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await bed.tb.exec('public', process.execPath, [FLOW_CLIENT], { input: JSON.stringify({ op: 'connect', address, proto: 'tcp', port: 80 }), check: true });
    const flow = JSON.parse(r.stdout) as { ok: boolean; reply?: string; error?: string };
    assert.ok(flow.ok, `the legitimate client's connection after the spoofed SYNs: ${r.stdout}`);
    assert.match(flow.reply ?? '', /^hosta saw 100\.64\.0\.100:\d+ /);
  });
});
