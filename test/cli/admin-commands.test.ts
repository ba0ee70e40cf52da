// `realmgw stats` and `realmgw reservations`: the pure formatters, and the built CLI reading a stub admin
// server on a temp Unix socket (the real gateway's routes are checked end to end in test/e2e/commands.test.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { AdminServer } from '../../src/admin/admin-server.js';
import { formatReservations, type ReservationView } from '../../src/cli/reservations-view.js';
import { formatStats, type StatsView } from '../../src/cli/stats-view.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { emptyStats } from '../../src/dataplane/confirmation.js';
import { CLI_PATH, makeTempDir, writeTempFile } from '../support/repo.js';

const RESERVATIONS: ReservationView[] = [
  { id: 7, address: '100.64.1.131', protocol: 6, port: 22, service: 'ssh.hosta.gwa.demo', host: 'hosta.gwa.demo', target: '192.168.0.100', boundTo: null, expiresInMs: 1840 },
  { id: 8, address: '100.64.1.132', protocol: 0, port: 0, service: 'icmp.hosta.gwa.demo', host: 'hosta.gwa.demo', target: '192.168.0.100', boundTo: '100.64.0.0/24', expiresInMs: 950 },
];

function stats(): StatsView {
  const wan = Object.assign(new DnsMetrics(), { queriesUdp: 12, queriesTcp: 2, allocations: 3, challenged: 1 }).snapshot();
  const lan = Object.assign(new DnsMetrics(), { queriesUdp: 5, forwarded: 4 }).snapshot();
  return {
    dns: { wan, lan },
    pool: { reserved: 5, consumed: 3, expired: 1, cancelled: 0, exhausted: 0, hostLimited: 0, flows: 3, live: 1, size: 3 },
    defences: null,
    dataplane: { confirm: 'nftset', ...emptyStats(), confirmed: 3, confirmLagMs: { samples: 3, p50: 1.5, p90: 2, p99: 2.5 } },
    proxy: null,
    forwards: [{ name: 'ssh-a', protocol: 'tcp', public: '100.64.1.130:2222', private: '192.168.0.100:22', mode: 'dnat', allowFrom: 0, connections: 2, packets: 40, bytes: 4096 }],
  };
}

test('stats: one aligned line per part of the gateway, the first figures an operator looks at', () => {
  const lines = formatStats(stats()).trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => l.split(/ {2,}/)[0]), ['dns wan', 'dns lan', 'pool', 'data plane', 'defences', 'proxy', 'forwards']);
  assert.deepEqual(new Set(lines.map((l) => /^\S+( \S+)? +/.exec(l)![0].length)), new Set(['data plane  '.length]), 'values aligned');
  assert.match(lines[0], /^dns wan +14 queries \(udp 12, tcp 2\), allocations 3, challenged 1, policy refused 0, pool exhausted 0/);
  assert.match(lines[1], /^dns lan +5 queries \(udp 5, tcp 0\), forwarded 4, forward failures 0/);
  assert.match(lines[2], /^pool +3 addresses, 1 live; reserved 5, consumed 3, expired 1, cancelled 0, exhausted 0, host-limited 0$/);
  assert.match(lines[3], /^data plane +nftset: confirmed 3, refused 0, .*, confirm lag p50 1\.5 ms p99 2\.5 ms$/);
  assert.match(lines[4], /^defences +off \(no pbra section\)$/);
  assert.match(lines[6], /^forwards +1 rule: connections 2, packets 40, 4\.0KiB/);
  const dnsOnly = formatStats({ ...stats(), dataplane: null, forwards: [] });
  assert.match(dnsOnly, /^data plane +off \(no dataplane section: DNS only\)$/m);
  assert.match(dnsOnly, /^forwards +none$/m);
});

test('reservations: one aligned line each, protocol and port by name, the binding and the time left', () => {
  const lines = formatReservations(RESERVATIONS).trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^ADDRESS\s+PROTO\s+PORT\s+SERVICE\s+TARGET\s+BOUND TO\s+EXPIRES IN$/);
  assert.match(lines[1], /^100\.64\.1\.131\s+tcp\s+22\s+ssh\.hosta\.gwa\.demo\s+192\.168\.0\.100\s+anyone\s+1\.8s$/);
  assert.match(lines[2], /^100\.64\.1\.132\s+any\s+any\s+icmp\.hosta\.gwa\.demo\s+192\.168\.0\.100\s+100\.64\.0\.0\/24\s+0\.9s$/);
  const col = lines[0].indexOf('SERVICE');
  assert.ok(lines.every((l) => l[col - 1] === ' ' && l[col] !== ' '), 'aligned columns');
  assert.equal(formatReservations([]), 'no live reservations\n');
});

test('realmgw stats and reservations read the admin socket: summary, --json, and a clear error when nobody answers', async (t) => {
  const dir = await makeTempDir('admin-cli');
  const socket = join(dir, 'admin.sock');
  const admin = new AdminServer(socket, { '/stats': () => stats(), '/reservations': () => RESERVATIONS }, pino({ level: 'silent' }));
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
      execFile(process.execPath, [CLI_PATH, ...args, '--config', config], (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const summary = await run('stats');
  assert.equal(summary.status, 0, summary.stderr);
  assert.equal(summary.stdout, formatStats(stats()));
  const statsJson = await run('stats', '--json');
  assert.deepEqual(JSON.parse(statsJson.stdout), JSON.parse(JSON.stringify(stats())));
  const table = await run('reservations');
  assert.equal(table.stdout, formatReservations(RESERVATIONS));
  const json = await run('reservations', '--json');
  assert.deepEqual(JSON.parse(json.stdout), RESERVATIONS);

  await admin.stop();
  for (const command of ['stats', 'reservations']) {
    const down = await run(command);
    assert.equal(down.status, 1);
    assert.equal(down.stdout, '');
    assert.match(down.stderr, new RegExp(`^RGW_ADMIN_UNREACHABLE: cannot read ${command} from ${socket}: connect ENOENT`));
  }
});
