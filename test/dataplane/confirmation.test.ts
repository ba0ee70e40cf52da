import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { parse, stringify } from 'yaml';
import { compile } from '../../src/compile/compile.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { CircularPool } from '../../src/pool/circular-pool.js';
import { REPO_ROOT, writeTempYaml } from '../support/repo.js';

async function dataplaneFor(confirm: 'nfqueue' | 'nftset'): Promise<{ dp: Dataplane; pool: CircularPool }> {
  const c = parse(await readFile(path.join(REPO_ROOT, 'orchestration', 'netns', 'gwa.demo.yaml'), 'utf8'));
  c.zones = path.join(REPO_ROOT, 'zones');
  c.policies = path.join(REPO_ROOT, 'policies', 'gwa.demo');
  c.dataplane.confirm = confirm;
  const compiled = compile(await writeTempYaml(stringify(c)));
  const pool = new CircularPool({ addresses: compiled.config.poolAddresses, lifetimeMs: 2000 });
  return { dp: new Dataplane(compiled.kernel!, pool, () => 0, pino({ level: 'silent' })), pool };
}

// Without starting: nothing here touches the kernel.
describe('Dataplane: one confirmation strategy per mode', () => {
  it('nfqueue confirms in userspace at the first packet: DNS answers wait for nothing', async () => {
    const { dp } = await dataplaneFor('nfqueue');
    assert.equal(dp.model.confirm, 'nfqueue');
    assert.equal(dp.reserve, undefined);
    assert.equal(dp.confirmLag(), undefined);
  });

  it('nftset hands each reservation to the kernel before its answer leaves; before start there is nowhere to hand it', async () => {
    const { dp, pool } = await dataplaneFor('nftset');
    assert.equal(typeof dp.reserve, 'function');
    const r = pool.reserve({ key: { protocol: 6, port: 80 }, hostId: 'hosta.gwa.demo', target: 0xc0a80064, service: 'www.hosta.gwa.demo' }, 0);
    assert.ok(r.ok);
    assert.equal(dp.reserve!(r.reservation), undefined);
    assert.equal(dp.stats.kernelOps, 0);
  });
});
