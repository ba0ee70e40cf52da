// What a reload may apply and what it refuses (reload/plan.ts), and the Reloader's outcomes and counters,
// on real compilations of the demo config (no gateway, no kernel).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../src/log.js';
import { compile } from '../../src/compile/compile.js';
import type { CompiledGateway, CompiledPart } from '../../src/compile/compiled-gateway.js';
import { emptyOperatorCounters } from '../../src/ops/operator-counters.js';
import { differingPaths, keepMarks, planReload } from '../../src/reload/plan.js';
import { Reloader } from '../../src/reload/reloader.js';
import { demoWith, type Json } from '../support/compile-config.js';
import { makeTempDir, REPO_ROOT } from '../support/repo.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child: () => quiet } as unknown as Logger;

/** A private copy of the demo policies, and a demo config that uses it. */
async function editableDemo(over: (c: Json) => void = () => {}): Promise<{ config: string; policies: string }> {
  const policies = path.join(await makeTempDir('policies'), 'gwa.demo');
  await cp(path.join(REPO_ROOT, 'policies', 'gwa.demo'), policies, { recursive: true });
  const config = await demoWith((c) => {
    c.policies = policies;
    over(c);
  });
  return { config, policies };
}

const NEW_NAME = `        - {fqdn:   'new.hosta.gwa.demo.', proxy_required: false, carriergrade: false, protocol: 6,  port: 5000 }\n`;

async function editHosta(policies: string, edit: (text: string) => string): Promise<void> {
  const file = path.join(policies, 'hosta.yaml');
  await writeFile(file, edit(await readFile(file, 'utf8')));
}

describe('planReload', () => {
  it('the same files: unchanged', async () => {
    const { config } = await editableDemo();
    assert.deepEqual(planReload(compile(config), compile(config)), { kind: 'unchanged' });
  });

  it('a service name added and one removed: applied live (policies)', async () => {
    const { config, policies } = await editableDemo();
    const running = compile(config);
    await editHosta(policies, (t) => t.replace(/^.*'ssh\.hosta\.gwa\.demo\.'.*\n/m, NEW_NAME));
    const plan = planReload(running, compile(config));
    assert.equal(plan.kind, 'apply');
    assert.ok(plan.kind === 'apply' && plan.changed.includes('policies'));
  });

  it('settings bound to what start built are refused, one problem per key, naming file and key', async () => {
    const { config } = await editableDemo();
    const running = compile(config);
    await demoWith((c) => {
      c.policies = running.config.policiesDir;
      c.dns.wan.listen[0].port = 5353;
      c.pool.addresses = ['100.64.1.131-100.64.1.132'];
      c.dataplane.confirm = 'nftset';
      c.dataplane.unmatched = 'drop'; // live: not refused
      c.dataplane.lan.network = '192.168.0.0/23'; // the LAN DNS client filter is built once
      c.admin = { socket: '/run/realmgw/other.sock' };
    }, config);
    const plan = planReload(running, compile(config));
    assert.equal(plan.kind, 'refused');
    const keys = plan.kind === 'refused' ? plan.problems.map((p) => `${p.file === config ? 'FILE' : p.file}: ${p.path.join('.')}`) : [];
    assert.deepEqual(keys.sort(), ['FILE: admin.socket', 'FILE: dataplane.confirm', 'FILE: dataplane.lan.network', 'FILE: dns.wan.listen.0.port', 'FILE: pool.addresses.0']);
    assert.ok(plan.kind === 'refused' && plan.problems.every((p) => /restart realmgw to apply it/.test(p.reason)));
  });

  it('nfqueue: a new host that sorts first takes a free mark; the others keep theirs', async () => {
    const { config, policies } = await editableDemo();
    const running = compile(config);
    const hosta = await readFile(path.join(policies, 'hosta.yaml'), 'utf8');
    await writeFile(path.join(policies, 'aaa.yaml'), hosta.replaceAll('hosta.gwa.demo.', 'aaa.gwa.demo.').replace('192.168.0.100', '192.168.0.99').replace('0000000100', '0000000099'));
    const next = compile(config);
    assert.equal(next.kernel!.model.hosts.find((h) => h.id === 'hosta.gwa.demo')!.markIndex, 2, 'compile alone would shift hosta');
    const plan = planReload(running, next);
    assert.equal(plan.kind, 'apply');
    const marks = plan.kind === 'apply' ? Object.fromEntries(plan.next.kernel!.model.hosts.map((h) => [h.id, h.markIndex])) : {};
    assert.deepEqual(marks, { 'aaa.gwa.demo': 3, 'hosta.gwa.demo': 1, 'hostb.gwa.demo': 2 });
    assert.match(plan.kind === 'apply' ? plan.next.kernel!.ruleset.nft : '', /0x52470003 : 192\.168\.0\.99/);
    assert.equal(keepMarks(running.kernel!, running.kernel!), running.kernel);
  });

  it('differingPaths names leaves, or the array when its length changed', () => {
    assert.deepEqual(differingPaths({ a: { b: 1, c: [1, 2] } }, { a: { b: 2, c: [1, 2, 3] } }, []), [['a', 'b'], ['a', 'c']]);
  });
});

describe('Reloader', () => {
  const target = (compiled: CompiledGateway) => {
    const applied: CompiledPart[][] = [];
    let current = compiled;
    return {
      applied,
      get compiled() {
        return current;
      },
      async applyReload(next: CompiledGateway, changed: CompiledPart[]) {
        applied.push(changed);
        current = next;
        return [];
      },
    };
  };

  it('a broken policy changes nothing: invalid, with file and key; counted as failed', async () => {
    const { config, policies } = await editableDemo();
    const t = target(compile(config));
    const counters = emptyOperatorCounters();
    const reloader = new Reloader(t, counters, quiet, compile, () => 1234);
    await editHosta(policies, (s) => s.replace("protocol: 6,  port: 22", "protocol: 6,  port: 'twenty-two'"));
    const r = await reloader.reload();
    assert.equal(r.ok, false);
    assert.equal(r.outcome, 'invalid');
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /hosta\.yaml:\d+: .*SFQDN\[4\]\.port: /);
    assert.deepEqual(t.applied, []);
    assert.deepEqual(counters.reloads, { succeeded: 0, failed: 1, unchanged: 0 });
    assert.equal(counters.lastReloadSuccessSeconds, 0);
  });

  it('reloads run one at a time: the second reads the files after the first applied', async () => {
    const { config, policies } = await editableDemo();
    const t = target(compile(config));
    const counters = emptyOperatorCounters();
    const reloader = new Reloader(t, counters, quiet, compile, () => 1234);
    await editHosta(policies, (s) => s.replace(/^.*'ssh\.hosta\.gwa\.demo\.'.*\n/m, NEW_NAME));
    const [a, b] = await Promise.all([reloader.reload(), reloader.reload()]);
    assert.equal(a.outcome, 'reloaded');
    assert.deepEqual(a.changed, ['policies']);
    assert.equal(b.outcome, 'unchanged');
    assert.deepEqual(counters.reloads, { succeeded: 1, failed: 0, unchanged: 1 });
    assert.equal(counters.lastReloadSuccessSeconds, 1234);
  });
});
