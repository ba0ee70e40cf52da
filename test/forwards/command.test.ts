// `realmgw forwards`: the gateway's /forwards through its admin socket, as a table or as JSON.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { AdminServer } from '../../src/admin/admin-server.js';
import { forwardsCommand } from '../../src/cli/forwards-command.js';
import type { GatewayConfig } from '../../src/config/load-config.js';
import type { ForwardStats } from '../../src/forwards/counters.js';
import { formatForwardsTable } from '../../src/forwards/table.js';
import { makeTempDir } from '../support/repo.js';

const FORWARDS: ForwardStats[] = [
  { name: 'ssh-hosta', protocol: 'tcp', public: '100.64.1.130:2222', private: '192.168.0.100:22', mode: 'dnat', allowFrom: 0, connections: 3, packets: 120, bytes: 9000 },
  { name: 'ntp-hosta', protocol: 'udp', public: '100.64.1.130:1123', private: '192.168.0.100:123', mode: 'fullnat', allowFrom: 2 },
];

test('the table: one aligned line per forward, - where the kernel had no counter', () => {
  assert.equal(
    formatForwardsTable(FORWARDS),
    [
      'FORWARD    PROTO  PUBLIC             PRIVATE            MODE     ALLOW       CONNS  PKTS  BYTES',
      'ssh-hosta  tcp    100.64.1.130:2222  192.168.0.100:22   dnat     any         3      120   9000',
      'ntp-hosta  udp    100.64.1.130:1123  192.168.0.100:123  fullnat  2 prefixes  -      -     -',
      '',
    ].join('\n'),
  );
  assert.equal(formatForwardsTable([]), 'no static forwards configured\n');
});

test('reads /forwards from the admin socket; --json prints it as it came', async (t) => {
  const socket = path.join(await makeTempDir('fwd-admin'), 'admin.sock');
  const admin = new AdminServer(socket, { '/forwards': () => FORWARDS }, pino({ level: 'silent' }));
  await admin.start();
  t.after(() => admin.stop());
  const config = { file: '/etc/realmgw/gateway.yaml', admin: { socket } } as GatewayConfig;
  let text = '';
  assert.equal(await forwardsCommand(config, true, (s) => (text += s)), 0);
  assert.deepEqual(JSON.parse(text), FORWARDS);
  text = '';
  assert.equal(await forwardsCommand(config, false, (s) => (text += s)), 0);
  assert.equal(text, formatForwardsTable(FORWARDS));
});

test('no admin socket configured, or nobody listening: the catalogued errors', async () => {
  await assert.rejects(forwardsCommand({ file: '/x.yaml' } as GatewayConfig, false, () => undefined), { code: 'RGW_ADMIN_NOT_CONFIGURED' });
  const socket = path.join(await makeTempDir('fwd-none'), 'admin.sock');
  await assert.rejects(forwardsCommand({ file: '/x.yaml', admin: { socket } } as GatewayConfig, false, () => undefined), { code: 'RGW_ADMIN_UNREACHABLE' });
});
