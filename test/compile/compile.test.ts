import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/compile/compile.js';
import { compiledDifferences } from '../../src/compile/compiled-gateway.js';
import { renderFirewall } from '../../src/dataplane/firewall.js';
import { renderRuleset } from '../../src/dataplane/ruleset.js';
import { DEMO, demoWith, problemsOf, type Json } from '../support/compile-config.js';
import { writeTempYaml } from '../support/repo.js';


describe('compile', () => {
  it('builds every part of the demo gateway once: views, kernel state, workers, PBRA', () => {
    const c = compile(DEMO);
    assert.deepEqual(c.zones.map((z) => z.origin).sort(), c.views.wan.tree.origins().sort());
    assert.equal(c.policies.hosts.size, 2);
    // the kernel part is exactly what the renderers make of its model: run installs what rules prints
    assert.ok(c.kernel);
    assert.deepEqual(c.kernel.ruleset, renderRuleset(c.kernel.model, { firewall: renderFirewall(c.kernel.model) }));
    assert.equal(c.kernel.model.confirm, 'nfqueue');
    assert.equal(c.workers?.zone, 'gwa.demo');
    assert.deepEqual(c.workers?.registry.workers.map((w) => w.name), ['worker1', 'worker2']);
    assert.deepEqual(c.workers?.registry.excludedAddresses, ['10.200.0.1']);
    assert.equal(c.pbra?.aliasZone, 'gwa.demo');
    assert.equal(c.pbra?.cookieSecret, undefined);
  });

  it('leaves out the parts whose section is absent', async () => {
    const c = compile(await demoWith((d) => {
      delete d.dataplane;
      delete d.forwards;
      delete d.workers;
      delete d.stun;
      delete d.pbra;
    }));
    assert.equal(c.kernel, undefined);
    assert.equal(c.workers, undefined);
    assert.equal(c.pbra, undefined);
  });

  it('reads the cookie secret file once, at compile time', async () => {
    const secret = await writeTempYaml('0123456789abcdef0123456789abcdef\n');
    const c = compile(await demoWith((d) => (d.pbra.cookies = { secretFile: secret })));
    assert.ok(Buffer.isBuffer(c.pbra?.cookieSecret));
  });

  it('reports every zone problem of the sections at once', async () => {
    const problems = problemsOf(await demoWith((d) => {
      d.workers.zone = 'elsewhere.example';
      d.pbra.cname = { zone: 'nowhere.example' };
    }));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /^workers\.zone: "elsewhere\.example" is not one of the zones/);
    assert.match(problems[1]!, /^pbra\.cname\.zone: "nowhere\.example" is not inside one of the zones/);
  });
});

describe('compiledDifferences', () => {
  it('finds none between two compilations of the same files', async () => {
    const file = await demoWith();
    const a = compile(file);
    const b = compile(file);
    assert.notEqual(a, b);
    assert.deepEqual(compiledDifferences(a, b), []);
  });

  it('names the parts a change reaches, and only those', async () => {
    const file = await demoWith();
    const base = compile(file);
    const differ = async (over: (c: Json) => void) => compiledDifferences(base, compile(await demoWith(over, file)));
    assert.deepEqual(await differ((c) => (c.dataplane.confirm = 'nftset')), ['kernel']);
    assert.deepEqual(await differ((c) => (c.pool.lifetimeMs = 3000)), ['config']);
    assert.deepEqual(await differ((c) => (c.workers.quota = 4)), ['workers']);
    assert.deepEqual(await differ((c) => (c.pbra.requesterBudget.share = 0.5)), ['pbra']);
    // pool addresses are published in DNS and matched by the kernel
    assert.deepEqual(await differ((c) => (c.pool.addresses = ['100.64.1.131-100.64.1.132'])), ['config', 'kernel']);
    // the forwards go with the data plane: their rules live in its table
    assert.deepEqual(await differ((c) => (delete c.dataplane, delete c.forwards)), ['config', 'kernel']);
  });
});
