/**
 * `realmgw stats` and `realmgw reservations` against a real gateway in the testbed: a DNS query from the
 * Internet side reserves a pool address, and both commands, run from the host namespace through the gateway's
 * admin socket (a Unix socket: no namespace needed), show that reservation and count it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ADDR, Testbed } from '../support/netns.js';
import { probe, startGateway, type RunningGateway } from '../support/gateway.js';
import { cliCommand } from '../support/repo.js';
import type { Answer } from '../support/dns-probe.js';

describe('realmgw stats and reservations', { timeout: 180_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;

  const realmgw = (...args: string[]) => {
    const { cmd, args: argv } = cliCommand([...args, '--config', gw.configFile]);
    return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(cmd, argv, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );
  };

  before(async () => {
    tb = await Testbed.up();
    // a lifetime no slow machine can outlast between the query and the commands that read the reservation
    gw = await startGateway(tb, { pool: { lifetimeMs: 600_000 } });
  });
  after(async () => {
    await tb?.down();
  });

  test('a reservation made by a real DNS query shows in reservations --json and is counted in stats --json', async () => {
    // over TCP: a proof of address, so the defences (pbra) let it reserve
    const [answers] = (await probe(tb, 'public', [{ op: 'tcp', server: ADDR.gwaWan, queries: [{ name: 'ssh.hosta.gwa.demo', type: 'A' }] }])) as Answer[][];
    const a = answers[0].answers?.find((r) => r.type === 'A');
    assert.ok(a, JSON.stringify(answers));
    const address = a.data as string;

    const listed = await realmgw('reservations', '--json');
    assert.equal(listed.status, 0, listed.stderr);
    const reservations = JSON.parse(listed.stdout) as { address: string; protocol: number; port: number; service: string; target: string; expiresInMs: number }[];
    const mine = reservations.filter((r) => r.address === address);
    assert.equal(mine.length, 1, listed.stdout);
    const { protocol, port, target } = mine[0];
    assert.deepEqual({ protocol, port, target }, { protocol: 6, port: 22, target: ADDR.hosta });
    assert.match(mine[0].service, /^ssh\.hosta\.gwa\.demo\.?$/);

    const counted = await realmgw('stats', '--json');
    assert.equal(counted.status, 0, counted.stderr);
    const stats = JSON.parse(counted.stdout) as { dns: { wan: { queriesTcp: number; allocations: number } }; pool: { size: number; live: number; reserved: number } };
    assert.equal(stats.pool.size, 3);
    assert.equal(stats.pool.live, 1);
    assert.equal(stats.pool.reserved, 1);
    assert.equal(stats.dns.wan.allocations, 1);
    assert.ok(stats.dns.wan.queriesTcp >= 1);

    // the same for people
    const table = await realmgw('reservations');
    assert.match(table.stdout, new RegExp(`^${address.replace(/\./g, '\\.')} +tcp +22 +ssh\\.hosta\\.gwa\\.demo\\.? +${ADDR.hosta.replace(/\./g, '\\.')} +`, 'm'));
    const summary = await realmgw('stats');
    assert.match(summary.stdout, /^pool +3 addresses, 1 live; reserved 1,/m);
    assert.match(summary.stdout, /^data plane +nfqueue: /m);
  });
});
