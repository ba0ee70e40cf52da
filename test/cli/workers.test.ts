// `realmgw workers`: the pure table formatter, and the CLI (from dist/) reading GET /workers from a real admin
// socket that serves a WorkersService's view.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { AdminServer } from '../../src/admin/admin-server.js';
import { formatAge, formatBytes, formatWorkersTable, type WorkersView } from '../../src/workers/api/view.js';
import { CLI_PATH, makeTempDir, writeTempFile } from '../support/repo.js';
import { loopbackConfig, startGatewaySide } from '../worker-agent/support.js';
import { secretOf } from '../workers/support.js';

const NOW = 1_800_000_000_000;
const C = (n: number) => ({ connections: n, packetsIn: n * 10, packetsOut: n * 9, bytesIn: n * 1500, bytesOut: n * 2048 });

const VIEW: WorkersView = {
  publicAddress: '100.64.1.130',
  workers: [
    {
      name: 'worker1',
      address: '10.77.0.11',
      lastSeen: NOW - 4_000,
      nat: { classic: 'port restricted' },
      leases: [
        { endpoint: '10053/tcp->100.64.1.130:20417', protocol: 'tcp', port: 10053, publicPort: 20417, counters: C(3) },
        { endpoint: '10053/udp->100.64.1.130:20950', protocol: 'udp', port: 10053, publicPort: 20950, counters: C(0) },
      ],
      totals: C(3),
    },
    { name: 'worker2', address: '10.77.0.12', lastSeen: NOW - 300_000, leases: [], totals: C(0) },
  ],
};

test('the table: one aligned line per lease, a dash line for a worker without leases', () => {
  const lines = formatWorkersTable(VIEW, NOW).trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^WORKER\s+ADDRESS\s+ENDPOINT\s+CONNS\s+PKTS IN\/OUT\s+BYTES IN\/OUT\s+LAST SEEN$/);
  assert.match(lines[1], /^worker1\s+10\.77\.0\.11\s+10053\/tcp->100\.64\.1\.130:20417\s+3\s+30\/27\s+4\.4KiB\/6\.0KiB\s+4s ago$/);
  assert.match(lines[2], /^worker1\s+.*10053\/udp->100\.64\.1\.130:20950\s+0\s+0\/0\s+0B\/0B\s+4s ago$/);
  assert.match(lines[3], /^worker2\s+10\.77\.0\.12\s+-\s+-\s+-\s+-\s+5m ago$/);
  const col = lines[0].indexOf('ENDPOINT');
  assert.ok(lines.slice(1).every((l) => l.slice(col - 2, col) === '  '), 'aligned columns');
  assert.match(formatWorkersTable({ publicAddress: '1.2.3.4', workers: [] }, NOW), /no workers registered/);
  assert.deepEqual([formatBytes(1023), formatBytes(1024), formatBytes(5 * 1024 ** 3)], ['1023B', '1.0KiB', '5.0GiB']);
  assert.deepEqual([formatAge(10), formatAge(59_000), formatAge(3 * 3600_000)], ['now', '59s ago', '3h ago']);
});

test('realmgw workers reads the gateway admin socket: table and --json', async (t) => {
  // no heartbeats here: the worker must outlive however long the CLI takes to start on a loaded machine
  const gw = await startGatewaySide(t, { config: loopbackConfig({ heartbeatTimeoutMs: 600_000 }) });
  const reg = await gw.service.register('w1', secretOf('w1'), { address: '127.0.0.9' }, [{ port: 22, protocol: 'tcp' }]);
  assert.ok(reg.ok);
  const dir = await makeTempDir('workers-cli');
  const socket = join(dir, 'admin.sock');
  const admin = new AdminServer(socket, { '/workers': () => gw.service.view() }, pino({ level: 'silent' }));
  await admin.start();
  t.after(() => admin.stop());
  const config = await writeTempFile(
    'gw.yaml',
    `zones: z\npolicies: p\ndns: { wan: { listen: [{ address: 100.64.1.130 }] } }\npool: { serviceAddress: 100.64.1.130, addresses: [100.64.1.131] }\nadmin: { socket: ${socket} }\n`,
    { dir },
  );
  // Asynchronous: the admin server answering is in this very process.
  const run = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI_PATH, 'workers', ...args, '--config', config], (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const table = await run();
  assert.equal(table.status, 0, table.stderr);
  // the age is however long the CLI took to start (the formatter's ages are tested above with a fixed clock)
  assert.match(table.stdout, new RegExp(`^w1\\s+127\\.0\\.0\\.9\\s+22/tcp->100\\.64\\.1\\.130:${reg.ok && reg.leases[0].publicPort}\\s+0\\s+0/0\\s+0B/0B\\s+(now|\\d+s ago)$`, 'm'));
  const json = await run('--json');
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), gw.service.view());

  await admin.stop();
  const down = await run();
  assert.equal(down.status, 1);
  assert.match(down.stderr, /cannot read workers from .*admin\.sock/);
  assert.equal((await run('--once')).status, 2, 'usage error');
});
