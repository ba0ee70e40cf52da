/**
 * `realmgw run` under a stand-in for systemd: $NOTIFY_SOCKET names a datagram socket the test reads. The
 * gateway pings WATCHDOG=1 from the start, says READY=1 (with a STATUS) only once it answers DNS and its
 * kernel state is installed, and STOPPING=1 on SIGTERM before it tears down. Without $NOTIFY_SOCKET the same
 * run sends nothing (test/ops/systemd.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Testbed } from '../support/netns.js';
import type { Answer } from '../support/dns-probe.js';
import { probe, writeGatewayConfig } from '../support/gateway.js';
import { cliCommand, makeTempDir } from '../support/repo.js';
import { HAS_PYTHON, notifyReceiver, type NotifyReceiver } from '../support/notify-receiver.js';

const WAN = '100.64.1.130';

describe('sd_notify from realmgw run', { timeout: 120_000, skip: HAS_PYTHON ? false : 'python3 missing (the notify receiver)' }, () => {
  let tb: Testbed;
  let systemd: NotifyReceiver;
  let notifyPath: string;

  before(async () => {
    tb = await Testbed.up();
    // A path, not an abstract name: abstract sockets belong to a network namespace, and the gateway runs in gwa.
    notifyPath = path.join(await makeTempDir('systemd'), 'notify');
    systemd = await notifyReceiver(notifyPath);
  });
  after(async () => {
    systemd?.close();
    await tb?.down();
  });

  test('WATCHDOG=1 from the start, READY=1 once DNS answers and the table is in, STOPPING=1 on SIGTERM', async () => {
    const { configFile } = await writeGatewayConfig({ pbra: null });
    const { cmd, args } = cliCommand(['run', '--config', configFile]);
    const gw = tb.spawn('gwa', cmd, args, { env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '1000000' } });
    assert.equal(await systemd.next(), 'WATCHDOG=1', 'the first ping comes before the start-up');
    let ready: string;
    while ((ready = await systemd.next()) === 'WATCHDOG=1');
    assert.match(ready, new RegExp(`^READY=1\\nSTATUS=serving DNS on .*${WAN.replace(/\./g, '\\.')}:53`));
    // Ready means ready: at this moment DNS answers and the kernel state is there.
    const [a] = (await probe(tb, 'public', [{ op: 'udp', server: WAN, name: 'www.hosta.gwa.demo', type: 'A' }])) as Answer[];
    assert.equal(a.rcode, 'NOERROR', JSON.stringify(a));
    assert.match((await tb.exec('gwa', 'nft', ['list', 'tables'])).stdout, /table ip realmgw\n/);
    while ((await systemd.next()) !== 'WATCHDOG=1');
    const stopping = gw.stop('SIGTERM');
    let m: string;
    while ((m = await systemd.next()) === 'WATCHDOG=1');
    assert.equal(m, 'STOPPING=1');
    assert.equal((await stopping).code, 0);
    assert.equal(systemd.messages.filter((x) => x.startsWith('READY=1')).length, 1, 'one READY=1');
  });
});
