// The ipvs backend against a real IPVS kernel. This host has none, so the scenario
// (test/support/uml/ipvs-scenario.ts: namespaces, traffic, rollback, bystanders, cleanup) runs inside a
// user-mode Linux guest, and its node:test result decides this test. No guest kernel installed is a failure,
// not a skip: CI installs user-mode-linux.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { requireUml, runInUml } from '../support/uml.js';

const GUEST_MODULES = ['ip_vs', 'ip_vs_wrr', 'ip_vs_rr', 'veth', 'iptable_nat', 'xt_nat', 'xt_ipvs', 'xt_conntrack'];

it('ipvs backend: mappings, FULL-NAT, accounting, rollback and cleanup on real IPVS (user-mode Linux guest)', { timeout: 330_000 }, async (t) => {
  requireUml();
  const r = await runInUml({
    modules: GUEST_MODULES,
    script: 'NO_COLOR=1 exec node --test --test-reporter=spec dist/test/support/uml/ipvs-scenario.js\n',
    // a hang guard, not a measurement: the guest's boot and scenario took 95 s with both cores loaded
    // (stress-ng --cpu 2), and this fixed 75 s limit failed the test there
    timeoutMs: 300_000,
  });
  const shown = `--- guest console (${r.ms} ms) ---\n${r.output.trimEnd()}`;
  assert.ok(!r.timedOut, `the guest did not finish in time\n${shown}`);
  assert.notEqual(r.code, undefined, `the guest died without reporting a status\n${shown}`);
  assert.equal(r.code, 0, `the scenario failed inside the guest\n${shown}`);
  assert.match(r.output, /^ℹ pass [1-9]\d*$/m, `the guest ran no test\n${shown}`);
  assert.match(r.output, /^ℹ fail 0$/m, shown);
  for (const line of r.output.split('\n')) if (/^\s*✔ /.test(line)) t.diagnostic(`guest: ${line.trim()}`);
});
