/**
 * Workers behind NAT, end to end in the testbed: two workers behind rgw-nat discover their NAT with the
 * gateway's STUN server (two NAT behaviours), register over the private network, and export TCP and UDP
 * services that a client on the Internet side reaches at the reported endpoints and through SRV records.
 * Stopping a worker removes its mappings; a gateway restart restores the same public ports; bad registrations
 * and malformed STUN packets are refused with a log line and no kernel change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADDR, Testbed, type NodeName, type NsProcess } from '../support/netns.js';
import type { Answer } from '../support/dns-probe.js';
import { adminGet, probe, startGateway, type RunningGateway } from '../support/gateway.js';
import { cliCommand, REPO_ROOT } from '../support/repo.js';
import type { WorkersView } from '../../src/workers/api/view.js';

const WAN = ADDR.gwaWan;
const NETNS_DIR = path.join(REPO_ROOT, 'orchestration', 'netns');
const SUPPORT = path.join(REPO_ROOT, 'dist', 'test', 'support');
const API = `http://${ADDR.gwaPrivate}:4780`;
const WORKERS = ['worker1', 'worker2'] as const;
type Worker = (typeof WORKERS)[number];

interface Talk {
  ok: boolean;
  reply?: string;
  error?: string;
}

describe('workers behind NAT', { timeout: 300_000 }, () => {
  let tb: Testbed;
  let gw: RunningGateway;
  const agents = new Map<Worker, NsProcess>();

  const talk = async (proto: 'tcp' | 'udp', port: number, payload = 'hello'): Promise<Talk> => {
    const r = await tb.exec('public', process.execPath, [path.join(SUPPORT, 'flow-client.js')], {
      input: JSON.stringify({ op: 'connect', address: WAN, proto, port, payload }),
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Talk;
  };
  const view = () => adminGet(gw.adminSocket, '/workers') as Promise<WorkersView>;
  const leasesOf = async (w: Worker) => (await view()).workers.find((x) => x.name === w)?.leases ?? [];
  const workersMap = async () => (await tb.exec('gwa', 'nft', ['list', 'map', 'ip', 'realmgw_workers', 'leases'])).stdout;

  const startAgent = async (w: Worker): Promise<NsProcess> => {
    const { cmd, args } = cliCommand(['worker', '--config', path.join(NETNS_DIR, `${w}.yaml`)]);
    const p = tb.spawn(w, cmd, args);
    await p.ready(/"msg":"registered: /, 30_000);
    agents.set(w, p);
    return p;
  };
  const natOf = (p: NsProcess): { classic?: string; mapping?: string; filtering?: string } => {
    const line = p.lines.find((l) => l.text.includes('"msg":"NAT discovery'));
    assert.ok(line, `no NAT discovery line:\n${p.tail()}`);
    return (JSON.parse(line.text) as { nat: { classic?: string } }).nat;
  };
  /** curl from a namespace: [status, body]. */
  const http = async (node: NodeName, method: string, url: string, opts: { secret?: string; body?: string } = {}): Promise<[number, string]> => {
    const args = ['-s', '-m', '5', '-o', '-', '-w', '\n%{http_code}', '-X', method, url];
    if (opts.secret !== undefined) args.push('-H', `Authorization: Bearer ${opts.secret}`);
    if (opts.body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', opts.body);
    const r = await tb.exec(node, 'curl', args);
    const lines = r.stdout.trimEnd().split('\n');
    return [Number(lines.pop()), lines.join('\n')];
  };
  const secretOf = async (w: Worker) => (await tb.exec('gwa', 'cat', [path.join(NETNS_DIR, `${w}.secret`)])).stdout.trim();

  before(async () => {
    tb = await Testbed.up();
    for (const w of WORKERS) {
      const echo = tb.spawn(w, process.execPath, [path.join(NETNS_DIR, 'echo-service.mjs'), w, '10053']);
      await echo.ready('echo on tcp and udp port 10053');
    }
    gw = await startGateway(tb);
  });
  after(async () => {
    await tb?.down();
  });

  test('behind a port-restricted NAT: worker1 discovers it, registers, and both its services are reachable', async () => {
    await tb.natMode('port-restricted');
    const agent = await startAgent('worker1');
    const nat = natOf(agent);
    assert.equal(nat.classic, 'port restricted', JSON.stringify(nat));
    assert.equal(nat.mapping, 'endpoint-independent');
    const leases = await leasesOf('worker1');
    assert.deepEqual(leases.map((l) => `${l.port}/${l.protocol}`).sort(), ['10053/tcp', '10053/udp']);
    for (const l of leases) {
      assert.equal(l.endpoint, `${l.port}/${l.protocol}->${WAN}:${l.publicPort}`);
      const r = await talk(l.protocol, l.publicPort);
      assert.ok(r.ok, JSON.stringify(r));
      // FULL-NAT: the worker sees the gateway's private address, and its reply came back through the gateway
      assert.match(r.reply!, new RegExp(`^worker1 saw ${ADDR.gwaPrivate.replace(/\./g, '\\.')}:\\d+: hello$`));
    }
  });

  test('behind a symmetric NAT: worker2 discovers it and is reachable through its SRV records', async () => {
    await tb.natMode('symmetric');
    const agent = await startAgent('worker2');
    assert.equal(natOf(agent).classic, 'symmetric', JSON.stringify(natOf(agent)));
    const [a, tcp, overTcp] = await probe(tb, 'public', [
      { op: 'udp', server: WAN, name: 'worker2.gwa.demo', type: 'A' },
      { op: 'udp', server: WAN, name: '_10053._tcp.worker2.gwa.demo', type: 'SRV' },
      { op: 'tcp', server: WAN, queries: [{ name: '_10053._udp.worker2.gwa.demo', type: 'SRV' }] },
    ]) as [Answer, Answer, Answer[]];
    const udp = overTcp[0]!;
    assert.equal(a.answers?.[0]?.data, WAN, JSON.stringify(a));
    const leases = await leasesOf('worker2');
    for (const [srv, proto] of [[tcp, 'tcp'], [udp, 'udp']] as const) {
      const data = srv.answers?.[0]?.data as { port: number; target: string };
      assert.equal(data.target, 'worker2.gwa.demo', JSON.stringify(srv));
      assert.equal(data.port, leases.find((l) => l.protocol === proto)!.publicPort);
      const r = await talk(proto, data.port, `via srv ${proto}`);
      assert.ok(r.ok, JSON.stringify(r));
      assert.match(r.reply!, new RegExp(`^worker2 saw .*: via srv ${proto}$`));
    }
  });

  test('realmgw workers reports endpoints and per-lease counters', async () => {
    const port = (await leasesOf('worker1')).find((l) => l.protocol === 'tcp')!.publicPort;
    assert.ok((await talk('tcp', port)).ok);
    let row;
    for (let i = 0; i < 30 && !(row && row.counters.connections > 0); i++) {
      if (i) await sleep(500);
      const { cmd, args } = cliCommand(['workers', '--json', '--config', gw.configFile]);
      const r = await tb.exec('gwa', cmd, args);
      assert.equal(r.code, 0, r.stderr);
      row = (JSON.parse(r.stdout) as WorkersView).workers.find((w) => w.name === 'worker1')?.leases.find((l) => l.publicPort === port);
    }
    assert.ok(row && row.counters.connections > 0 && row.counters.packetsIn > 0 && row.counters.bytesOut > 0, JSON.stringify(row));
    const { cmd, args } = cliCommand(['workers', '--config', gw.configFile]);
    const table = await tb.exec('gwa', cmd, args);
    assert.match(table.stdout, new RegExp(`worker1 .*10053/tcp->${WAN.replace(/\./g, '\\.')}:${port}`));
  });

  test('bad registrations are refused with a log line and change nothing in the kernel', async () => {
    const before = await workersMap();
    const from = gw.proc.lines.length;
    const services = JSON.stringify({ services: [{ port: 10053, protocol: 'tcp' }] });
    assert.equal((await http('worker1', 'POST', `${API}/v1/workers/worker1/register`, { secret: 'not-the-secret-at-all', body: services }))[0], 401);
    // from the realm (outside the private network) with the right secret
    assert.equal((await http('hosta', 'POST', `${API}/v1/workers/worker1/register`, { secret: await secretOf('worker1'), body: services }))[0], 403);
    const many = JSON.stringify({ services: Array.from({ length: 9 }, (_, i) => ({ port: 11000 + i, protocol: 'udp' })) });
    const [quota, body] = await http('worker1', 'POST', `${API}/v1/workers/worker1/register`, { secret: await secretOf('worker1'), body: many });
    assert.equal(quota, 409, body);
    assert.match(body, /quota/);
    assert.equal((await http('worker1', 'POST', `${API}/v1/workers/worker1/register`, { secret: await secretOf('worker1'), body: '{"services": [' }))[0], 400);
    await sleep(200);
    const warnings = gw.proc.lines.slice(from).filter((l) => /"level":40/.test(l.text));
    assert.ok(warnings.length >= 4, `one warn line per refusal:\n${warnings.map((l) => l.text).join('\n')}`);
    assert.ok(!gw.proc.lines.some((l) => l.text.includes('not-the-secret-at-all')), 'a secret never reaches the log');
    assert.equal(await workersMap(), before, 'the kernel mappings are unchanged');
    assert.equal((await talk('tcp', (await leasesOf('worker1')).find((l) => l.protocol === 'tcp')!.publicPort)).ok, true, 'worker1 still served');
  });

  test('a malformed STUN packet is dropped with a log line; the server keeps answering', async () => {
    const from = gw.proc.lines.length;
    const r = await tb.exec('public', process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       s.on('message', () => { console.log('answered'); process.exit(0); });
       s.send(Buffer.from('0001000c2112a442deadbeef', 'hex'), 3478, '${WAN}', () => setTimeout(() => { console.log('silence'); process.exit(0); }, 1000));`,
    ]);
    assert.equal(r.stdout.trim(), 'silence');
    await sleep(100);
    assert.ok(gw.proc.lines.slice(from).some((l) => l.text.includes('STUN packet dropped')), gw.proc.tail());
    // a well-formed binding request from the same client is still answered
    const ok = await tb.exec('public', process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       const req = Buffer.alloc(20); req.writeUInt16BE(1, 0); req.writeUInt32BE(0x2112a442, 4); require('node:crypto').randomFillSync(req, 8, 12);
       s.on('message', (m) => { console.log(m.readUInt16BE(0) === 0x0101 ? 'binding success' : 'other'); process.exit(0); });
       s.send(req, 3478, '${WAN}', () => setTimeout(() => { console.log('silence'); process.exit(0); }, 2000));`,
    ]);
    assert.equal(ok.stdout.trim(), 'binding success');
  });

  test('stopping a worker deregisters it: its mappings and names are gone', async () => {
    const ports = (await leasesOf('worker2')).map((l) => l.publicPort);
    assert.equal(ports.length, 2);
    const exit = await agents.get('worker2')!.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal((await leasesOf('worker2')).length, 0);
    const map = await workersMap();
    for (const p of ports) assert.doesNotMatch(map, new RegExp(`\\. ${p} :`), map);
    assert.equal((await talk('tcp', ports[0]!)).ok, false, 'no new flows to a released port');
    const [a] = (await probe(tb, 'public', [{ op: 'udp', server: WAN, name: 'worker2.gwa.demo', type: 'A' }])) as Answer[];
    assert.equal(a.rcode, 'NXDOMAIN', JSON.stringify(a));
  });

  test('a gateway restart restores the same public ports', async () => {
    const before = (await leasesOf('worker1')).map((l) => l.endpoint).sort();
    assert.equal(before.length, 2);
    const stopped = await gw.proc.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    assert.doesNotMatch((await tb.exec('gwa', 'nft', ['list', 'tables'])).stdout, /realmgw_workers/, 'SIGTERM removes the mappings');
    const { cmd, args } = cliCommand(['run', '--config', gw.configFile]);
    const proc = tb.spawn('gwa', cmd, args);
    await proc.ready('realmgw running', 15_000);
    gw = { ...gw, proc };
    // restored from the state file before the worker's next heartbeat
    assert.deepEqual((await leasesOf('worker1')).map((l) => l.endpoint).sort(), before);
    for (const l of await leasesOf('worker1')) assert.ok((await talk(l.protocol, l.publicPort)).ok, l.endpoint);
  });

  test('after a SIGKILL the mappings stay; realmgw cleanup removes them and nothing else', async () => {
    await gw.proc.stop('SIGKILL');
    assert.match((await tb.exec('gwa', 'nft', ['list', 'tables'])).stdout, /table ip realmgw_workers/, 'a killed gateway leaves its mappings');
    const { cmd, args } = cliCommand(['cleanup', '--config', gw.configFile]);
    const r = await tb.exec('gwa', cmd, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed: nft table ip realmgw_workers/);
    const tables = (await tb.exec('gwa', 'nft', ['list', 'tables'])).stdout;
    assert.doesNotMatch(tables, /realmgw/);
    assert.match(tables, /table ip rgwtestbed/, "the testbed's own table is not ours to remove");
  });
});
