// `realmgw reload` (from dist/) against a real admin socket whose POST /reload answers as a gateway would;
// the admin server's GET/POST split; the run signals (second stop signal, SIGHUP); the gateway's lame duck.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { pino } from 'pino';
import { AdminServer } from '../../src/admin/admin-server.js';
import { adminGet, adminPost } from '../../src/admin/admin-client.js';
import { compile } from '../../src/compile/compile.js';
import { Gateway } from '../../src/gateway.js';
import type { ReloadResult } from '../../src/reload/reloader.js';
import { demoWith } from '../support/compile-config.js';
import { CLI_PATH, DIST_DIR, makeTempDir } from '../support/repo.js';

const silent = pino({ level: 'silent' });

async function gatewaySocket(answer: ReloadResult) {
  const socket = join(await makeTempDir('admin'), 'admin.sock');
  const server = new AdminServer(socket, { '/stats': () => ({ ok: 1 }) }, silent, { '/reload': () => answer });
  await server.start();
  const config = await demoWith((c) => {
    c.admin = { socket };
  });
  return { socket, server, config };
}

const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI_PATH, ...args], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });

test('realmgw reload prints what changed, exit 0; a refusal lists the problems, exit 1', async (t) => {
  const ok = await gatewaySocket({ ok: true, outcome: 'reloaded', changed: ['config', 'policies', 'kernel'], problems: [], kernel: ['flush chain prerouting', 'add counter fwd_x_new'] });
  t.after(() => ok.server.stop());
  const r = await cli(['reload', '--config', ok.config]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'reloaded: config, policies, kernel (kernel: 2 nft operations in one transaction)\n');

  const refused = await gatewaySocket({ ok: false, outcome: 'refused', changed: [], problems: ['/etc/realmgw/gw.yaml: dns.wan.listen[0].port: cannot change in a reload; restart realmgw to apply it'], kernel: [] });
  t.after(() => refused.server.stop());
  const f = await cli(['reload', '--config', refused.config]);
  assert.equal(f.code, 1);
  assert.equal(f.stderr, '/etc/realmgw/gw.yaml: dns.wan.listen[0].port: cannot change in a reload; restart realmgw to apply it\nRGW_RELOAD_REFUSED: reload refused: 1 problem(s); the running gateway is unchanged\n');
});

test('realmgw reload without a gateway behind the socket: RGW_RELOAD_UNREACHABLE, exit 1', async () => {
  const config = await demoWith((c) => {
    c.admin = { socket: '/nonexistent/realmgw.sock' };
  });
  const r = await cli(['reload', '--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^RGW_RELOAD_UNREACHABLE: cannot ask the gateway to reload through \/nonexistent\/realmgw\.sock: /);
});

test('the admin socket: GET reads, POST acts, the wrong method is 405', async (t) => {
  const { socket, server } = await gatewaySocket({ ok: true, outcome: 'unchanged', changed: [], problems: [], kernel: [] });
  t.after(() => server.stop());
  assert.deepEqual(await adminPost(socket, '/reload'), { ok: true, outcome: 'unchanged', changed: [], problems: [], kernel: [] });
  assert.deepEqual(await adminGet(socket, '/stats'), { ok: 1 });
  await assert.rejects(adminGet(socket, '/reload'), /HTTP 405/);
  await assert.rejects(adminPost(socket, '/stats'), /HTTP 405/);
  await assert.rejects(adminPost(socket, '/nothing'), /HTTP 404/);
});

test('a gateway draining: readiness false (draining); a second stop signal ends the lame duck at once', async () => {
  const gw = new Gateway(compile(await demoWith()), silent);
  assert.equal(gw.lameDuckMs, 2000, 'default: the pool lifetime');
  let cut!: () => void;
  const drained = gw.drain(3_600_000, new Promise<void>((r) => (cut = r)));
  assert.equal(gw.readiness.ready(), false);
  assert.equal(gw.readiness.view().started?.reason, 'draining');
  cut();
  await drained;
  const configured = new Gateway(compile(await demoWith((c) => (c.shutdown = { lameDuckMs: 0 }))), silent);
  assert.equal(configured.lameDuckMs, 0);
});

test('run signals: SIGHUP reloads instead of ending the process; the second SIGTERM resolves `again`', () => {
  const url = pathToFileURL(join(DIST_DIR, 'src/cli/stop-signal.js')).href;
  const script = `
    import { processSignals } from '${url}';
    const keep = setInterval(() => {}, 1000); // signal listeners alone do not keep the event loop alive
    const events = [];
    let wake;
    const next = () => new Promise((r) => (wake = r));
    const log = { info() {}, warn(_, msg) { events.push(msg); wake?.(); } };
    let reloaded = next();
    const s = processSignals(log, () => { console.log('reload'); wake(); });
    process.kill(process.pid, 'SIGHUP');
    await reloaded;
    process.kill(process.pid, 'SIGTERM');
    console.log('stop', await s.stop);
    process.kill(process.pid, 'SIGINT');
    console.log('again', await s.again);
    const third = next();
    process.kill(process.pid, 'SIGTERM');
    await third;
    console.log('still here:', events[events.length - 1]);
    clearInterval(keep);
  `;

  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(DIST_DIR, '..'), encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `${r.signal ?? ''} ${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, 'reload\nstop SIGTERM\nagain SIGINT\nstill here: already stopping; finishing the cleanup first\n');
});
