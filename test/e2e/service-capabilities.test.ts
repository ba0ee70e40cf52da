/**
 * The unit's CapabilityBoundingSet is enough, and needed: the gateway runs in the testbed as root with exactly
 * that bounding set (setpriv, as systemd would apply it; every child it runs — nft, iptables, ipset,
 * conntrack — gets the same set), in both confirmation modes, installs its kernel state and the workers'
 * table, confirms a real flow and removes everything on SIGTERM. Without any one of the set it cannot start,
 * which shows both that the set is in force and that nothing in it is spare. systemd's other sandboxing (ProtectSystem=... in the unit) is not
 * reproduced here: there is no systemd as PID 1 in the test machine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Testbed } from '../support/netns.js';
import { writeGatewayConfig } from '../support/gateway.js';
import { CLI_PATH, REPO_ROOT } from '../support/repo.js';

const UNIT = path.join(REPO_ROOT, 'orchestration', 'systemd', 'realmgw.service');
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const WAN = '100.64.1.130';

/** CAP_NET_ADMIN CAP_NET_BIND_SERVICE -> ['net_admin', 'net_bind_service'] */
function unitCapabilities(): string[] {
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(readFileSync(UNIT, 'utf8'));
  assert.ok(line, 'the unit sets CapabilityBoundingSet');
  return line[1]!.trim().split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

/** The capability bits of a mask, by number (linux/capability.h): net_bind_service 10, net_admin 12. */
const CAP_NUMBER: Record<string, number> = { net_bind_service: 10, net_admin: 12, net_raw: 13, sys_admin: 21 };
const maskOf = (caps: string[]): bigint => caps.reduce((m, c) => m | (1n << BigInt(CAP_NUMBER[c]!)), 0n);

const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

describe('the unit capability set', { timeout: 240_000, skip: hasSetpriv ? false : 'setpriv (util-linux) missing' }, () => {
  let tb: Testbed;
  const caps = unitCapabilities();

  const underSet = (set: string[], configFile: string) =>
    tb.spawn('gwa', 'setpriv', ['--bounding-set', ['-all', ...set.map((c) => `+${c}`)].join(','), '--inh-caps=-all', process.execPath, CLI_PATH, 'run', '--config', configFile]);
  const ours = async () => {
    const [nft, ipt, sets] = await Promise.all([tb.exec('gwa', 'nft', ['list', 'tables']), tb.exec('gwa', 'iptables-save', []), tb.exec('gwa', 'ipset', ['list', '-n'])]);
    return { tables: nft.stdout.match(/table ip realmgw\w*/g) ?? [], chains: ipt.stdout.match(/^:RGW-\S+/gm) ?? [], ipsets: sets.stdout.match(/^rgw-\S+/gm) ?? [] };
  };

  before(async () => {
    tb = await Testbed.up();
    const server = tb.spawn('hosta', process.execPath, [path.join(SUPPORT, 'flow-server.js'), '--name', 'hosta', '--tcp', '5000']);
    await server.ready('listening');
  });
  after(async () => {
    await tb?.down();
  });

  for (const confirm of ['nfqueue', 'nftset'] as const) {
    test(`${confirm}: the gateway starts, confirms a flow and cleans up with only ${caps.join(' + ')}`, async () => {
      const { configFile } = await writeGatewayConfig({ pbra: null, dataplane: { confirm } });
      const gw = underSet(caps, configFile);
      await gw.ready('realmgw running', 20_000);
      const status = readFileSync(`/proc/${gw.pid}/status`, 'utf8');
      assert.equal(BigInt('0x' + /^CapBnd:\s*(\w+)$/m.exec(status)![1]), maskOf(caps), 'the bounding set is in force');
      assert.equal(BigInt('0x' + /^CapEff:\s*(\w+)$/m.exec(status)![1]), maskOf(caps));
      const state = await ours();
      assert.deepEqual(state.tables.sort(), ['table ip realmgw', 'table ip realmgw_workers']);
      const job = { op: 'flows', dns: { server: WAN }, flows: [{ name: 'tcp.hosta.gwa.demo', proto: 'tcp', port: 5000 }] };
      const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], { input: JSON.stringify(job), timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const [flow] = JSON.parse(r.stdout) as { ok: boolean; reply?: string }[];
      assert.ok(flow!.ok, JSON.stringify(flow));
      assert.match(flow!.reply!, /^hosta saw 100\.64\.0\.100:\d+ hello$/);
      const exit = await gw.stop('SIGTERM');
      assert.equal(exit.code, 0, gw.tail());
      assert.deepEqual(await ours(), { tables: [], chains: [], ipsets: [] }, 'SIGTERM removed everything, with the same set');
    });
  }

  for (const missing of caps) {
    test(`without ${missing} the gateway cannot start, and leaves nothing behind: each capability of the set is needed`, async () => {
      const { configFile } = await writeGatewayConfig({ pbra: null });
      const gw = underSet(caps.filter((c) => c !== missing), configFile);
      const exit = await gw.exited;
      assert.equal(exit.code, 1, gw.tail());
      assert.match(gw.tail(), /RGW_(KERNEL_STATE|START_FAILED)/);
      assert.deepEqual(await ours(), { tables: [], chains: [], ipsets: [] });
    });
  }
});
