// The nftables worker backend against the real kernel, in three namespaces this file builds and always removes
// (test/support/worker-net.ts: client --- gateway --- worker, the worker's default route NOT via the gateway):
// TCP and UDP through FULL-NAT, counters, removal, all-or-nothing diffs, restart over a leftover, clean stop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { CommandRunner } from '../../src/dataplane/command.js';
import { NftError } from '../../src/dataplane/nft.js';
import type { Lease } from '../../src/workers/lease.js';
import { leaseId } from '../../src/workers/mapping-backend.js';
import { NftMappingBackend, cleanupNftWorkers } from '../../src/workers/backends/nft-backend.js';
import { NftWorkersError, compileNftWorkersOptions, renderNftWorkersStart } from '../../src/workers/backends/nft-render.js';
import { DIST_DIR, E2E_TIMEOUT_MS } from '../support/repo.js';
import { WORKER_NET, WorkerNet } from '../support/worker-net.js';
import { kernelTestSkip } from '../support/scratch-ns.js';

const SKIP = kernelTestSkip(['/usr/sbin/nft', '/usr/sbin/ip'], 'nft and iproute2');

const FLOW_SERVER = path.join(DIST_DIR, 'test', 'support', 'flow-server.js');
const FLOW_CLIENT = path.join(DIST_DIR, 'test', 'support', 'flow-client.js');
const T = { timeout: E2E_TIMEOUT_MS };
const TABLE = 'realmgw_workers';

const lease = (protocol: 'tcp' | 'udp', publicPort: number, port: number, address: string = WORKER_NET.worker): Lease => ({
  worker: 'w1',
  publicPort,
  protocol,
  target: { address, port },
});
const TCP = lease('tcp', 40001, 10053);
const UDP = lease('udp', 40001, 10053);

let net: WorkerNet;
let backend: NftMappingBackend;

const OPTIONS = () => ({
  publicAddress: WORKER_NET.public,
  privateAddress: WORKER_NET.private,
  privateNetwork: WORKER_NET.network,
  netns: net.ns('gw'),
});

function newBackend(): NftMappingBackend {
  return new NftMappingBackend(OPTIONS());
}

/** One exchange from the client to the gateway's public address: the worker's reply, or why there was none. */
async function talk(proto: 'tcp' | 'udp', port: number, payload = 'hello'): Promise<{ ok: boolean; reply?: string; error?: string }> {
  const job = { op: 'connect', address: WORKER_NET.public, proto, port, payload };
  const r = await net.exec('cli', process.execPath, [FLOW_CLIENT], { input: JSON.stringify(job), check: true });
  return JSON.parse(r.stdout) as { ok: boolean; reply?: string; error?: string };
}

async function gw(cmd: string, args: string[]): Promise<string> {
  return (await net.exec('gw', cmd, args, { check: true })).stdout;
}

const tables = async () => (await gw('nft', ['list', 'tables'])).split('\n').filter(Boolean);
const ourTable = () => gw('nft', ['list', 'table', 'ip', TABLE]);

describe('nftables worker backend in the kernel', { skip: SKIP }, () => {
  before(async () => {
    net = await WorkerNet.up();
    const server = net.spawn('wk', process.execPath, [FLOW_SERVER, '--tcp', '10053,10054', '--udp', '10053', '--name', 'worker']);
    await server.ready('listening');
    // a table that is not ours, to prove we never touch it
    await net.exec('gw', 'nft', ['-f', '-'], {
      check: true,
      input: 'table ip bystander {\n\tset keep { type ipv4_addr; elements = { 192.0.2.1 } }\n\tchain forward { type filter hook forward priority 5; policy accept; counter; }\n}\n',
    });
    backend = newBackend();
    await backend.start([]);
  });
  after(async () => {
    await backend?.stop().catch(() => undefined);
    await net?.down();
  });

  it('the worker routes replies elsewhere: only FULL-NAT can bring them back', T, async () => {
    const route = (await net.exec('wk', 'ip', ['route', 'get', WORKER_NET.client], { check: true })).stdout;
    assert.match(route, new RegExp(`via ${WORKER_NET.elsewhere.replaceAll('.', '\\.')}`));
  });

  it('maps TCP and UDP to the worker, which sees the gateway as the source, and replies return', T, async () => {
    await backend.apply({ add: [TCP, UDP], remove: [] });
    const tcp = await talk('tcp', 40001, 'over-tcp');
    assert.equal(tcp.ok, true, JSON.stringify(tcp));
    assert.match(tcp.reply!, new RegExp(`^worker saw ${WORKER_NET.private.replaceAll('.', '\\.')}:\\d+ over-tcp$`));
    const udp = await talk('udp', 40001, 'over-udp');
    assert.equal(udp.ok, true, JSON.stringify(udp));
    assert.match(udp.reply!, new RegExp(`^worker saw ${WORKER_NET.private.replaceAll('.', '\\.')}:\\d+ over-udp$`));
  });

  it('counters() reports each lease: connections, packets and bytes both ways', T, async () => {
    const c = await backend.counters();
    assert.deepEqual([...c.keys()].sort(), ['tcp/40001', 'udp/40001']);
    const tcp = c.get(leaseId(TCP))!;
    assert.equal(tcp.connections, 1);
    // handshake, request, FIN, ACKs: at least 3 packets each way, each at least a 20-byte IP + 20-byte TCP header
    assert.ok(tcp.packetsIn >= 3 && tcp.packetsOut >= 3, JSON.stringify(tcp));
    assert.ok(tcp.bytesIn >= tcp.packetsIn * 40 && tcp.bytesOut >= tcp.packetsOut * 40, JSON.stringify(tcp));
    // one datagram each way: IP 20 + UDP 8 + payload ("over-udp"; the reply names the source address and port)
    const udp = c.get(leaseId(UDP))!;
    assert.deepEqual({ ...udp, bytesOut: 0 }, { connections: 1, packetsIn: 1, packetsOut: 1, bytesIn: 28 + 'over-udp'.length, bytesOut: 0 });
    assert.ok(udp.bytesOut > 28 + 'worker saw 10.77.0.1:1 over-udp'.length, JSON.stringify(udp));
  });

  it('removing a lease stops new flows to it and leaves the others mapped', T, async () => {
    await backend.apply({ add: [], remove: [TCP] });
    const tcp = await talk('tcp', 40001);
    assert.equal(tcp.ok, false, JSON.stringify(tcp));
    assert.equal((await talk('udp', 40001)).ok, true);
    assert.deepEqual([...(await backend.counters()).keys()], ['udp/40001']);
  });

  it('removing a lease also ends the flows already running through it (conntrack entries dropped)', T, async () => {
    const port = 40003;
    await backend.apply({ add: [lease('udp', port, 10053)], remove: [] });
    // one UDP socket, one flow: each stdin line is a datagram, each reply is printed
    const stream = net.spawn(
      'cli',
      process.execPath,
      [
        '-e',
        `const s = require('node:dgram').createSocket('udp4');
         s.on('message', (m) => console.log('reply ' + m));
         require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => s.send(l, ${port}, '${WORKER_NET.public}'));
         s.bind(0, () => console.log('bound'));`,
      ],
      { stdin: 'pipe' },
    );
    await stream.ready('bound');
    stream.child.stdin!.write('one\n');
    await stream.ready(/^reply worker saw .* one$/);
    await backend.apply({ add: [], remove: [lease('udp', port, 10053)] });
    stream.child.stdin!.write('two\n');
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(!stream.lines.some((l) => / two$/.test(l.text)), `the running flow still reached the worker:\n${stream.tail()}`);
    await stream.stop();
  });

  it('a diff moves a public port to another target (removes applied before adds)', T, async () => {
    await backend.apply({ add: [lease('tcp', 40002, 10053)], remove: [] });
    await backend.apply({ add: [lease('tcp', 40002, 10054), UDP], remove: [lease('tcp', 40002, 10053), UDP] });
    assert.equal((await talk('tcp', 40002)).ok, true);
    assert.match(await ourTable(), /tcp \. 40002 : 10\.77\.0\.2 \. 10054/);
    assert.equal((await backend.counters()).get('udp/40001')?.connections, 0, 'a re-added lease counts from zero');
  });

  it('a diff the kernel refuses changes nothing (one transaction)', T, async () => {
    const before = await ourTable();
    // the removal of a lease that is not mapped fails the transaction, so the valid add must not happen either
    await assert.rejects(backend.apply({ add: [lease('tcp', 40003, 10053)], remove: [lease('tcp', 40999, 10053)] }), NftError);
    assert.equal(await ourTable(), before);
    assert.equal((await talk('tcp', 40003)).ok, false);
  });

  it('concurrent diffs are each all-or-nothing: a bad one fails alone', T, async () => {
    const good = [40010, 40011, 40012, 40013].map((p) => lease('tcp', p, 10053));
    const results = await Promise.allSettled([
      backend.apply({ add: [good[0]], remove: [] }),
      backend.apply({ add: [good[1]], remove: [] }),
      backend.apply({ add: [lease('tcp', 40014, 10053)], remove: [lease('tcp', 40998, 10053)] }),
      backend.apply({ add: [good[2], good[3]], remove: [] }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const keys = [...(await backend.counters()).keys()];
    for (const g of good) assert.ok(keys.includes(leaseId(g)), `${leaseId(g)} mapped`);
    assert.ok(!keys.includes('tcp/40014'), 'the bad diff added nothing');
    await backend.apply({ add: [], remove: good });
  });

  it('refuses targets outside the private network or on the gateway itself, before touching the kernel', T, async () => {
    const before = await ourTable();
    for (const address of [WORKER_NET.client, '192.168.0.5', WORKER_NET.private]) {
      await assert.rejects(backend.apply({ add: [lease('tcp', 40020, 22, address)], remove: [] }), (err: unknown) => {
        assert.ok(err instanceof NftWorkersError, String(err));
        assert.match(err.message, new RegExp(address.replaceAll('.', '\\.')));
        return true;
      });
    }
    assert.equal(await ourTable(), before);
  });

  it('start() after a crash replaces the leftover table: exactly one copy, holding the restored leases', T, async () => {
    // a killed run leaves its table behind, holding leases this run no longer knows about
    await backend.stop();
    const leftover = renderNftWorkersStart(compileNftWorkersOptions(OPTIONS()), [lease('tcp', 40002, 10054), lease('tcp', 40500, 9, '10.77.0.9')]);
    await net.exec('gw', 'nft', ['-f', '-'], { input: leftover, check: true });
    backend = newBackend();
    await backend.start([lease('tcp', 40030, 10053), UDP]);
    assert.equal((await tables()).filter((t) => t === `table ip ${TABLE}`).length, 1);
    assert.deepEqual([...(await backend.counters()).keys()].sort(), ['tcp/40030', 'udp/40001']);
    assert.equal((await talk('tcp', 40030)).ok, true);
    assert.equal((await talk('tcp', 40002)).ok, false, 'leases of the killed run are gone');
  });

  it('stop() removes our table only; cleanup finds nothing left; the bystander is untouched', T, async () => {
    const bystander = await gw('nft', ['list', 'table', 'ip', 'bystander']);
    await backend.stop();
    await backend.stop(); // idempotent
    assert.deepEqual(await tables(), ['table ip bystander']);
    assert.equal(await gw('nft', ['list', 'table', 'ip', 'bystander']), bystander);
    assert.equal((await talk('udp', 40001)).ok, false);
    const runner = new CommandRunner(net.ns('gw'));
    assert.equal(await cleanupNftWorkers(runner), false);
  });

  it('cleanupNftWorkers removes a leftover table and nothing else', T, async () => {
    const leftover = newBackend();
    await leftover.start([TCP]);
    const runner = new CommandRunner(net.ns('gw'));
    assert.equal(await cleanupNftWorkers(runner), true);
    assert.deepEqual(await tables(), ['table ip bystander']);
    await leftover.stop(); // closes its channel; the table is already gone
  });
});
