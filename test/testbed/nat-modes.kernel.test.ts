// The NAT router of the testbed (testbed.sh nat MODE) behaves as each mode claims, proven with real UDP
// packets: udp-probe responders in public (100.64.0.100, ports 3478-3480) and in gwa (100.64.1.130 and
// 100.64.1.134, port 3478) tell a worker how they see it (its mapping per destination), then play hosts
// that send to the mapped address unasked (its filtering). Needs root; one testbed for the whole file.
import assert from 'node:assert/strict';
import { randomInt, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADDR, DEFAULT_NAT_MODE, NAT_MODES, Testbed, run, type NatMode, type NsProcess } from '../support/netns.js';
import { DIST_DIR, TESTBED_SCRIPT } from '../support/repo.js';

const T = { timeout: 60_000 };
const PROBE = join(DIST_DIR, 'test', 'testbed', 'udp-probe.js');

/** The destinations a worker asks: two ports of one address, and a second address. */
const ASKED = [`${ADDR.public}:3478`, `${ADDR.public}:3479`, `${ADDR.gwaWan}:3478`] as const;
/** Hosts that send to a worker's mapping unasked. */
const CONTACTED = `${ADDR.public}:3478`;
const OTHER_PORT = `${ADDR.public}:3480`;
const OTHER_ADDRESS = `${ADDR.gwaStun}:3478`;
/** How long an unsolicited packet has to arrive (each is sent three times, 100 ms apart). */
const QUIET_MS = 700;

let tb: Testbed;
let publicProbe: NsProcess;
let gwaProbe: NsProcess;

function serverFor(endpoint: string): NsProcess {
  return endpoint.startsWith(`${ADDR.public}:`) ? publicProbe : gwaProbe;
}

function tell(proc: NsProcess, line: string): void {
  proc.child.stdin!.write(`${line}\n`);
}

async function startClient(node: 'worker1' | 'worker2'): Promise<{ proc: NsProcess; port: number }> {
  const port = 20_000 + randomInt(20_000);
  const proc = tb.spawn(node, process.execPath, [PROBE, 'client', String(port)], { stdin: 'pipe' });
  await proc.ready(/^ready \d+$/, 10_000);
  return { proc, port };
}

/** How `dst` sees the client ("ip:port"), or null when no answer came. */
async function mappedAt(client: NsProcess, dst: string): Promise<string | null> {
  const fromLine = client.lineCount;
  tell(client, `ask ${dst}`);
  const line = await client.ready((l) => l === `noreply ${dst}` || l.startsWith(`mapped ${dst} `), 5_000, { fromLine });
  return line.startsWith('mapped ') ? line.split(' ')[2]! : null;
}

/** Which of `senders` got a datagram through to the client at `mapped` (sent to it unasked). */
async function unsolicitedArrivals(client: NsProcess, mapped: string, senders: readonly string[]): Promise<string[]> {
  const fromLine = client.lineCount;
  const tag = randomBytes(4).toString('hex');
  for (let i = 0; i < 3; i++) {
    for (const s of senders) tell(serverFor(s), `send ${s} ${mapped} poke-${tag}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, QUIET_MS));
  const got = new Set<string>();
  for (const l of client.lines.slice(fromLine)) {
    const m = /^recv (\S+) poke-(\w+)$/.exec(l.text);
    if (m && m[2] === tag) got.add(m[1]!);
  }
  return senders.filter((s) => got.has(s));
}

async function mappings(client: NsProcess): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const dst of ASKED) out.push(await mappedAt(client, dst));
  return out;
}

function script(prefix: string, ...args: string[]) {
  return run('bash', [TESTBED_SCRIPT, ...args], { env: { ...process.env, RGW_PREFIX: prefix }, timeoutMs: 60_000 });
}

const natTable = async (): Promise<string> =>
  (await tb.exec('nat', 'nft', ['list', 'table', 'ip', 'rgwnat'], { check: true })).stdout;

describe('testbed NAT modes', () => {
  before(async () => {
    tb = await Testbed.up();
    publicProbe = tb.spawn('public', process.execPath, [PROBE, 'serve', CONTACTED, `${ADDR.public}:3479`, OTHER_PORT], {
      stdin: 'pipe',
    });
    gwaProbe = tb.spawn('gwa', process.execPath, [PROBE, 'serve', `${ADDR.gwaWan}:3478`, OTHER_ADDRESS], { stdin: 'pipe' });
    await Promise.all([publicProbe.ready(/^ready$/, 10_000), gwaProbe.ready(/^ready$/, 10_000)]);
  });
  after(async () => {
    await tb?.down();
  });

  test('a new testbed starts port-restricted, and status says so', T, async () => {
    assert.equal(DEFAULT_NAT_MODE, 'port-restricted');
    assert.equal(await tb.currentNatMode(), 'port-restricted');
    assert.match((await tb.status()).output, /^nat mode: port-restricted$/m);
  });

  test('port-restricted: one mapping for every destination, source port kept; only the contacted endpoint gets in', T, async () => {
    await tb.natMode('port-restricted');
    const { proc, port } = await startClient('worker1');
    const seen = await mappings(proc);
    assert.deepEqual(seen, ASKED.map(() => `${ADDR.natPublic}:${port}`), 'endpoint-independent mapping, port preserved');
    const got = await unsolicitedArrivals(proc, seen[0]!, [CONTACTED, OTHER_PORT, OTHER_ADDRESS]);
    assert.deepEqual(got, [CONTACTED], 'address-and-port-dependent filtering');
    await proc.stop();
  });

  test('symmetric: a different mapped port per destination; only the contacted endpoint gets in', T, async () => {
    await tb.natMode('symmetric');
    assert.equal(await tb.currentNatMode(), 'symmetric');
    const { proc } = await startClient('worker1');
    const seen = await mappings(proc);
    for (const s of seen) assert.ok(s?.startsWith(`${ADDR.natPublic}:`), `mapped to the NAT's address: ${String(s)}`);
    // Ports are drawn at random per flow: two draws collide with probability ~1/64k.
    assert.equal(new Set(seen).size, seen.length, `one mapping per destination: ${seen.join(', ')}`);
    const got = await unsolicitedArrivals(proc, seen[0]!, [CONTACTED, OTHER_PORT, OTHER_ADDRESS]);
    assert.deepEqual(got, [CONTACTED]);
    await proc.stop();
  });

  test('full-cone: one mapping for every destination; anyone gets in, to the worker that owns the mapping', T, async () => {
    await tb.natMode('full-cone');
    const w1 = await startClient('worker1');
    let w2 = await startClient('worker2');
    while (w2.port === w1.port) {
      await w2.proc.stop();
      w2 = await startClient('worker2');
    }
    const seen1 = await mappings(w1.proc);
    assert.deepEqual(seen1, ASKED.map(() => `${ADDR.natPublic}:${w1.port}`), 'endpoint-independent mapping');
    const seen2 = await mappedAt(w2.proc, CONTACTED);
    assert.equal(seen2, `${ADDR.natPublic}:${w2.port}`);

    const senders = [CONTACTED, OTHER_PORT, OTHER_ADDRESS];
    assert.deepEqual(await unsolicitedArrivals(w1.proc, seen1[0]!, senders), senders, 'endpoint-independent filtering');
    assert.deepEqual(await unsolicitedArrivals(w2.proc, seen2!, senders), senders);
    // each mapping leads to its own worker only
    assert.deepEqual(await unsolicitedArrivals(w1.proc, seen2!, senders), []);
    await Promise.all([w1.proc.stop(), w2.proc.stop()]);
  });

  test('blocked: no UDP passes either way; ICMP and TCP still do', T, async () => {
    await tb.natMode('blocked');
    const { proc, port } = await startClient('worker1');
    assert.deepEqual(await mappedAt(proc, CONTACTED), null, 'no answer through the NAT');
    assert.deepEqual(await unsolicitedArrivals(proc, `${ADDR.natPublic}:${port}`, [CONTACTED, OTHER_ADDRESS]), []);
    const ping = await tb.exec('worker1', 'ping', ['-n', '-c1', '-W2', ADDR.public], { timeoutMs: 10_000 });
    assert.equal(ping.code, 0, ping.stdout);
    const tcp = await tb.exec(
      'worker1',
      process.execPath,
      [
        '-e',
        `const s = require('node:net').connect(22, '${ADDR.gwaWan}');
         s.on('connect', () => { console.log('connected'); s.end(); });
         s.on('error', (e) => { console.log(e.code); });`,
      ],
      { timeoutMs: 10_000 },
    );
    assert.match(tcp.stdout, /^(connected|ECONNREFUSED)$/m, 'TCP reaches gwa (refused or accepted, not dropped)');
    await proc.stop();
  });

  test('up keeps the current mode; status reports it', T, async () => {
    await tb.natMode('symmetric');
    const before = await natTable();
    const up = await script(tb.prefix, 'up');
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await natTable(), before);
    assert.equal(await tb.currentNatMode(), 'symmetric');
    assert.match((await tb.status()).output, /^nat mode: symmetric$/m);
  });

  test('a bad mode is refused with the list of modes, and nothing changes', T, async () => {
    await tb.natMode('full-cone');
    const before = await natTable();
    for (const bad of ['bogus', '', 'full-cone;x', 'FULL-CONE']) {
      const r = await script(tb.prefix, 'nat', bad);
      if (bad === '') {
        // no mode: prints the current one
        assert.deepEqual([r.code, r.stdout], [0, 'full-cone\n']);
        continue;
      }
      assert.notEqual(r.code, 0, `mode '${bad}' refused`);
      assert.match(r.stderr, new RegExp(`unknown NAT mode .*${NAT_MODES.join('\\|')}`));
    }
    const extra = await script(tb.prefix, 'nat', 'symmetric', 'blocked');
    assert.notEqual(extra.code, 0);
    assert.match(extra.stderr, /usage:/);
    await assert.rejects(tb.natMode('cone' as NatMode), /unknown NAT mode 'cone'/);
    assert.equal(await natTable(), before);
  });

  test('status notices a missing NAT table; up puts back the default mode', T, async () => {
    await tb.exec('nat', 'nft', ['delete', 'table', 'ip', 'rgwnat'], { check: true });
    const st = await tb.status();
    assert.equal(st.ok, false);
    assert.match(st.output, /problem: .*rgwnat/);
    const up = await script(tb.prefix, 'up');
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await tb.currentNatMode(), 'port-restricted');
    assert.equal((await tb.status()).ok, true);
  });

  test('nat on an absent testbed fails clearly and creates nothing', T, async () => {
    const prefix = `rgwt${randomBytes(3).toString('hex')}-`;
    const r = await script(prefix, 'nat', 'symmetric');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /namespace .*nat is absent/);
    const list = await run('ip', ['netns', 'list'], { check: true });
    assert.ok(!list.stdout.includes(prefix), 'no namespace was created');
  });
});
