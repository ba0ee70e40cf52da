// Tests of the network-namespace testbed (orchestration/netns/testbed.sh) and of test/support/netns.ts.
// Needs root. Every testbed here uses its own random rgwt<hex>- prefix.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ADDR, NODES, POOL, Testbed, run, type ExecResult, type NodeName } from '../support/netns.js';
import { TESTBED_SCRIPT, writeTempFile } from '../support/repo.js';

const T = { timeout: 60_000 };

function script(prefix: string, action: string): Promise<ExecResult> {
  return run('bash', [TESTBED_SCRIPT, action], { env: { ...process.env, RGW_PREFIX: prefix }, timeoutMs: 60_000 });
}

async function namespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { check: true });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

async function prefixed(prefix: string): Promise<string[]> {
  return (await namespaces()).filter((n) => n.startsWith(prefix)).sort();
}

/** true once pid no longer exists or is a zombie (reaping by init can lag), polling up to timeoutMs */
async function gone(pid: number, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state: string | undefined;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    } catch {
      return true;
    }
    if (state === 'Z' || state === 'X') return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function randomPrefix(): string {
  return `rgwt${randomBytes(3).toString('hex')}-`;
}

async function ipJson(ns: string, args: string[]): Promise<unknown[]> {
  const r = await run('ip', ['-n', ns, '-j', ...args], { check: true });
  return JSON.parse(r.stdout || '[]') as unknown[];
}

interface Addr {
  ifname: string;
  operstate: string;
  master?: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}
interface Route {
  dst: string;
  gateway?: string;
  dev: string;
}

/** ifname -> "a.b.c.d/len" list, IPv4 only */
async function addrs(ns: string): Promise<Map<string, string[]>> {
  const list = (await ipJson(ns, ['addr', 'show'])) as Addr[];
  return new Map(
    list.map((l) => [l.ifname, l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)]),
  );
}

async function routes(ns: string): Promise<string[]> {
  const list = (await ipJson(ns, ['-4', 'route', 'show'])) as Route[];
  return list.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort();
}

async function sysctl(ns: string, key: string): Promise<string> {
  const r = await run('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { check: true });
  return r.stdout.trim().replace(/\s+/g, ' ');
}

/** Everything `up` must leave unchanged when run again: links (with ifindex), masters, state, addresses, routes. */
async function snapshot(tb: Testbed): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const node of NODES) {
    const ns = tb.ns(node);
    const links = (await ipJson(ns, ['link', 'show'])) as (Addr & { ifindex: number; address: string; flags: string[] })[];
    out[node] = {
      links: links.map((l) => [l.ifindex, l.ifname, l.address, l.master ?? '', l.flags.join(',')]),
      addrs: [...(await addrs(ns)).entries()],
      routes: await routes(ns),
      forwarding: await sysctl(ns, 'net.ipv4.ip_forward'),
    };
  }
  out.nft = {
    gwa: (await tb.sh('gwa', 'nft list ruleset', { check: true })).stdout,
    nat: (await tb.sh('nat', 'nft list ruleset', { check: true })).stdout,
  };
  return JSON.stringify(out);
}

async function rootSnapshot(): Promise<string> {
  const links = (await run('ip', ['-j', 'link', 'show'], { check: true })).stdout;
  const names = (JSON.parse(links) as { ifname: string }[]).map((l) => l.ifname).sort();
  const rts = (await run('ip', ['-4', 'route', 'show'], { check: true })).stdout;
  const fwd = (await run('sysctl', ['-n', 'net.ipv4.ip_forward', 'net.ipv4.ping_group_range'], { check: true })).stdout;
  return JSON.stringify({ names, rts, fwd });
}

async function ping(tb: Testbed, from: NodeName, to: string, waitS = 2): Promise<ExecResult> {
  return tb.exec(from, 'ping', ['-n', '-c', '1', '-W', String(waitS), to], { timeoutMs: 15_000 });
}

/** Asserts that no ping gets an answer, waiting 1 s for all of them at once. */
async function assertUnreachable(tb: Testbed, pairs: readonly (readonly [NodeName, string])[]): Promise<void> {
  const results = await Promise.all(pairs.map(([from, to]) => ping(tb, from, to, 1)));
  results.forEach((r, i) => assert.notEqual(r.code, 0, `ping ${pairs[i]![0]} -> ${pairs[i]![1]} must fail`));
}

describe('testbed.sh', () => {
  let tb: Testbed;
  let rootBefore: string;

  before(async () => {
    rootBefore = await rootSnapshot();
    tb = await Testbed.up();
  });
  after(async () => {
    await tb?.down();
  });

  test('up creates every namespace with its addresses, routes and sysctls', T, async () => {
    assert.deepEqual(await prefixed(tb.prefix), NODES.map((n) => tb.prefix + n).sort());

    const expectAddrs: Record<NodeName, Record<string, string[]>> = {
      public: { lo: ['127.0.0.1/8'], eth0: ['100.64.0.100/24'] },
      router: { lo: ['127.0.0.1/8'], pub0: ['100.64.0.1/24'], gw0: ['100.64.1.1/24'], nat0: ['100.64.2.1/24'] },
      gwa: {
        lo: ['127.0.0.1/8'],
        // .130 first: the primary address, the one gwa's own traffic leaves from
        wan0: ['100.64.1.130/24', '100.64.1.134/24'],
        lan0: ['192.168.0.1/24'],
        vha: [],
        vhb: [],
        vhc: [],
        wrk0: ['10.200.0.1/24'],
        pw1: [],
        pw2: [],
      },
      hosta: { lo: ['127.0.0.1/8'], eth0: ['192.168.0.100/24'] },
      hostb: { lo: ['127.0.0.1/8'], eth0: ['192.168.0.101/24'] },
      hostc: { lo: ['127.0.0.1/8'], eth0: ['192.168.0.102/24'] },
      nat: { lo: ['127.0.0.1/8'], up0: ['100.64.2.2/24'], lan0: ['172.16.0.1/24'], nw1: [], nw2: [] },
      worker1: { lo: ['127.0.0.1/8'], nat0: ['172.16.0.11/24'], priv0: ['10.200.0.11/24'] },
      worker2: { lo: ['127.0.0.1/8'], nat0: ['172.16.0.12/24'], priv0: ['10.200.0.12/24'] },
    };
    for (const [node, want] of Object.entries(expectAddrs) as [NodeName, Record<string, string[]>][]) {
      assert.deepEqual(Object.fromEntries(await addrs(tb.ns(node))), want, `addresses of ${node}`);
      const links = (await ipJson(tb.ns(node), ['link', 'show'])) as (Addr & { flags: string[] })[];
      for (const l of links) assert.ok(l.flags.includes('UP'), `${node} ${l.ifname} is up`);
    }
    const bridges: [NodeName, string, string[]][] = [
      ['gwa', 'lan0', ['vha', 'vhb', 'vhc']],
      ['gwa', 'wrk0', ['pw1', 'pw2']],
      ['nat', 'lan0', ['nw1', 'nw2']],
    ];
    for (const [node, bridge, ports] of bridges) {
      const links = (await ipJson(tb.ns(node), ['link', 'show'])) as Addr[];
      for (const port of ports) assert.equal(links.find((l) => l.ifname === port)?.master, bridge, `${node} ${port}`);
    }

    assert.deepEqual(await routes(tb.ns('public')), ['100.64.0.0/24 dev eth0', 'default via 100.64.0.1 dev eth0']);
    assert.deepEqual(await routes(tb.ns('router')), [
      '100.64.0.0/24 dev pub0',
      '100.64.1.0/24 dev gw0',
      '100.64.1.131 via 100.64.1.130 dev gw0',
      '100.64.1.132 via 100.64.1.130 dev gw0',
      '100.64.1.133 via 100.64.1.130 dev gw0',
      '100.64.2.0/24 dev nat0',
    ]);
    assert.deepEqual(await routes(tb.ns('gwa')), [
      '10.200.0.0/24 dev wrk0',
      '100.64.1.0/24 dev wan0',
      '192.168.0.0/24 dev lan0',
      'default via 100.64.1.1 dev wan0',
    ]);
    assert.deepEqual(await routes(tb.ns('nat')), [
      '100.64.2.0/24 dev up0',
      '172.16.0.0/24 dev lan0',
      'default via 100.64.2.1 dev up0',
    ]);
    // the private network is a connected route only: nothing beyond 10.200.0.0/24 goes over priv0
    for (const w of ['worker1', 'worker2'] as const) {
      assert.deepEqual(await routes(tb.ns(w)), ['10.200.0.0/24 dev priv0', '172.16.0.0/24 dev nat0', 'default via 172.16.0.1 dev nat0']);
    }
    for (const h of ['hosta', 'hostb'] as const) {
      assert.deepEqual(await routes(tb.ns(h)), ['192.168.0.0/24 dev eth0', 'default via 192.168.0.1 dev eth0']);
    }
    // hostc is routed elsewhere (a router that is not there): replies to the Internet never reach the gateway
    assert.deepEqual(await routes(tb.ns('hostc')), ['192.168.0.0/24 dev eth0', 'default via 192.168.0.254 dev eth0']);

    for (const node of ['router', 'gwa', 'nat'] as const) {
      assert.equal(await sysctl(tb.ns(node), 'net.ipv4.ip_forward'), '1', `${node} forwards`);
    }
    for (const node of ['public', 'hosta', 'hostb', 'hostc', 'worker1', 'worker2'] as const) {
      assert.equal(await sysctl(tb.ns(node), 'net.ipv4.ip_forward'), '0', `${node} does not forward`);
    }
    for (const node of NODES) {
      assert.equal(await sysctl(tb.ns(node), 'net.ipv4.ping_group_range'), '0 2147483647');
      assert.equal(await sysctl(tb.ns(node), 'net.ipv6.conf.all.disable_ipv6'), '1');
    }
  });

  test('up again is a no-op (same links, ifindexes, addresses, routes)', T, async () => {
    const before = await snapshot(tb);
    const r = await script(tb.prefix, 'up');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, '', 'up is quiet on success');
    assert.equal(await snapshot(tb), before);
  });

  test('the root namespace is not changed', T, async () => {
    assert.equal(await rootSnapshot(), rootBefore);
  });

  test('status exits 0 and lists every namespace with addresses and routes', T, async () => {
    const r = await script(tb.prefix, 'status');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const node of NODES) {
      assert.match(r.stdout, new RegExp(`== ${tb.ns(node)}\\b`));
    }
    for (const a of ['100.64.0.100/24', '100.64.1.130/24', '100.64.1.134/24', '192.168.0.1/24', '192.168.0.100/24',
      '192.168.0.101/24', '192.168.0.102/24', '10.200.0.1/24', '100.64.2.1/24', '100.64.2.2/24', '172.16.0.1/24', '172.16.0.11/24',
      '172.16.0.12/24', '10.200.0.11/24', '10.200.0.12/24']) {
      assert.ok(r.stdout.includes(a), `status shows ${a}`);
    }
    assert.match(r.stdout, /100\.64\.1\.132 via 100\.64\.1\.130 dev gw0/);
    assert.match(r.stdout, /default via 172\.16\.0\.1 dev nat0/);
    assert.match(r.stdout, /^nat mode: port-restricted$/m);
    assert.deepEqual(await tb.status().then((s) => s.ok), true);
  });

  test('connectivity: WAN, LAN, and gateway to the Internet', T, async () => {
    const cases: [NodeName, string][] = [
      ['public', ADDR.gwaWan],
      ['public', ADDR.routerPublic],
      ['hosta', ADDR.gwaLan],
      ['hosta', ADDR.hostb],
      ['hostb', ADDR.hosta],
      ['hostc', ADDR.gwaLan],
      ['gwa', ADDR.public],
      ['gwa', ADDR.hosta],
    ];
    for (const [from, to] of cases) {
      const r = await ping(tb, from, to);
      assert.equal(r.code, 0, `ping ${from} -> ${to}: ${r.stdout}${r.stderr}`);
    }
  });

  test('the realm is private: public cannot reach hosta directly', T, async () => {
    const r = await ping(tb, 'public', ADDR.hosta, 1);
    assert.notEqual(r.code, 0, 'ping public -> hosta must fail');
    const get = await tb.exec('router', 'ip', ['route', 'get', ADDR.hosta]);
    assert.notEqual(get.code, 0, `router has no route to the LAN: ${get.stdout}`);
    assert.match(get.stderr, /unreachable/i);
  });

  test('pool addresses are routed to the gateway', T, async () => {
    for (const a of POOL) {
      const r = await tb.exec('router', 'ip', ['route', 'get', a], { check: true });
      assert.match(r.stdout, new RegExp(`^${a.replace(/\./g, '\\.')} via 100\\.64\\.1\\.130 dev gw0`), r.stdout);
    }
    // not assigned on the gateway: only its WAN and LAN addresses are
    const all = [...(await addrs(tb.ns('gwa'))).values()].flat();
    for (const a of POOL) assert.ok(!all.some((x) => x.startsWith(`${a}/`)), `${a} not assigned on gwa`);
  });

  test('connectivity: workers reach the Internet through the NAT and gwa over the private network', T, async () => {
    const cases: [NodeName, string][] = [
      ['worker1', ADDR.public],
      ['worker2', ADDR.public],
      ['worker1', ADDR.gwaWan],
      ['worker1', ADDR.gwaStun],
      ['worker2', ADDR.gwaStun],
      ['worker1', ADDR.gwaPrivate],
      ['worker2', ADDR.gwaPrivate],
      ['worker1', ADDR.worker2Private],
      ['worker2', ADDR.worker1],
      ['public', ADDR.natPublic],
      ['router', ADDR.gwaStun],
      ['gwa', ADDR.natPublic],
      ['gwa', ADDR.worker1Private],
      ['gwa', ADDR.worker2Private],
    ];
    for (const [from, to] of cases) {
      const r = await ping(tb, from, to);
      assert.equal(r.code, 0, `ping ${from} -> ${to}: ${r.stdout}${r.stderr}`);
    }
    const via = async (node: NodeName, to: string): Promise<string> =>
      (await tb.exec(node, 'ip', ['route', 'get', to], { check: true })).stdout;
    assert.match(await via('worker1', ADDR.gwaWan), / via 172\.16\.0\.1 dev nat0 /, 'the public side goes through the NAT');
    assert.match(await via('worker1', ADDR.gwaPrivate), /^10\.200\.0\.1 dev priv0 /);
    // gwa answers the worker on the private network (not via its default route)
    assert.match(await via('gwa', ADDR.worker2Private), /^10\.200\.0\.12 dev wrk0 /);
  });

  test('nothing outside reaches the NAT LAN or the private network directly', T, async () => {
    const inside = [ADDR.worker1, ADDR.natInside, ADDR.worker1Private, ADDR.gwaPrivate];
    for (const to of inside) {
      const get = await tb.exec('router', 'ip', ['route', 'get', to]);
      assert.notEqual(get.code, 0, `router has no route to ${to}: ${get.stdout}`);
    }
    await assertUnreachable(tb, inside.map((to) => ['public', to] as const));
  });

  test('workers cannot reach the realm, not even with a route of their own through gwa', T, async () => {
    const realm = [ADDR.hosta, ADDR.hostb, ADDR.gwaLan];
    await assertUnreachable(tb, (['worker1', 'worker2'] as const).flatMap((w) => realm.map((to) => [w, to] as const)));
    // A worker is not trusted: give worker1 a route to the realm through the private network.
    await tb.exec('worker1', 'ip', ['route', 'add', '192.168.0.0/24', 'via', ADDR.gwaPrivate, 'dev', 'priv0'], { check: true });
    try {
      await assertUnreachable(tb, realm.map((to) => ['worker1', to] as const));
      assert.equal((await ping(tb, 'worker1', ADDR.gwaPrivate)).code, 0, 'the private network itself works');
      // Without gwa's isolation table the same ping gets through: the table, not an accident, stops it.
      await tb.exec('gwa', 'nft', ['delete', 'table', 'ip', 'rgwtestbed'], { check: true });
      assert.equal((await tb.status()).ok, false, 'status notices the missing isolation');
      assert.equal((await ping(tb, 'worker1', ADDR.hosta)).code, 0, 'control: reachable without the isolation');
      const up = await script(tb.prefix, 'up');
      assert.equal(up.code, 0, up.stderr);
      await assertUnreachable(tb, [['worker1', ADDR.hosta]]);
    } finally {
      await tb.exec('worker1', 'ip', ['route', 'del', '192.168.0.0/24']);
    }
    assert.equal((await tb.status()).ok, true);
  });

  test("up makes 100.64.1.130 wan0's primary address again when only the STUN address is left", T, async () => {
    await tb.exec('gwa', 'ip', ['addr', 'flush', 'dev', 'wan0'], { check: true });
    await tb.exec('gwa', 'ip', ['addr', 'add', `${ADDR.gwaStun}/24`, 'dev', 'wan0'], { check: true });
    const st = await tb.status();
    assert.equal(st.ok, false);
    assert.match(st.output, /wan0's primary address is '100\.64\.1\.134\/24'/);
    const up = await script(tb.prefix, 'up');
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual((await addrs(tb.ns('gwa'))).get('wan0'), ['100.64.1.130/24', '100.64.1.134/24']);
    const get = await tb.exec('gwa', 'ip', ['route', 'get', ADDR.public], { check: true });
    assert.match(get.stdout, / src 100\.64\.1\.130 /, 'gwa talks from its service address');
    assert.equal((await tb.status()).ok, true);
  });

  test('a UDP datagram from public to a pool address reaches the gwa namespace', T, async () => {
    // Deliver the pool address locally in gwa for the duration of the test, and listen on 0.0.0.0.
    await tb.exec('gwa', 'ip', ['route', 'add', 'local', `${POOL[0]}/32`, 'dev', 'lo'], { check: true });
    const listener = tb.spawn('gwa', process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       s.on('message', (m, r) => { console.log('got ' + m + ' from ' + r.address); s.close(); });
       s.bind(40053, '0.0.0.0', () => console.log('listening'));`,
    ]);
    try {
      await listener.ready('listening', 10_000);
      const sender = await tb.exec('public', process.execPath, [
        '-e',
        `const s = require('node:dgram').createSocket('udp4'); let n = 0;
         const t = setInterval(() => { s.send('hello', 40053, '${POOL[0]}'); if (++n === 10) { clearInterval(t); s.close(); } }, 50);`,
      ]);
      assert.equal(sender.code, 0, sender.stderr);
      const line = await listener.ready(/^got /, 5_000);
      assert.equal(line, `got hello from ${ADDR.public}`);
      assert.deepEqual(await listener.exited, { code: 0, signal: null });
    } finally {
      await listener.stop();
      await tb.exec('gwa', 'ip', ['route', 'del', 'local', `${POOL[0]}/32`, 'dev', 'lo']);
    }
  });

  test('up repairs partial state (missing namespace, stale netns file, lost address and route)', T, async () => {
    const prefix = randomPrefix();
    try {
      assert.equal((await script(prefix, 'up')).code, 0);
      await run('ip', ['-n', `${prefix}router`, 'addr', 'flush', 'dev', 'pub0'], { check: true });
      await run('ip', ['-n', `${prefix}public`, 'route', 'del', 'default'], { check: true });
      // (the router's routes via gw0 vanish with gwa, whenever the kernel gets round to destroying it)
      await run('ip', ['netns', 'delete', `${prefix}gwa`], { check: true });
      await run('ip', ['netns', 'delete', `${prefix}hostb`], { check: true });
      writeFileSync(`/run/netns/${prefix}hostb`, ''); // what an interrupted `ip netns add` leaves

      const st = await script(prefix, 'status');
      assert.notEqual(st.code, 0, 'status reports the broken testbed');
      assert.match(st.stdout, /problem: missing namespace/);

      const up = await script(prefix, 'up');
      assert.equal(up.code, 0, up.stderr);
      const st2 = await script(prefix, 'status');
      assert.equal(st2.code, 0, st2.stdout + st2.stderr);
      const r = await run('ip', ['netns', 'exec', `${prefix}hostb`, 'ping', '-n', '-c1', '-W2', ADDR.gwaLan]);
      assert.equal(r.code, 0, r.stdout);
      const r2 = await run('ip', ['netns', 'exec', `${prefix}public`, 'ping', '-n', '-c1', '-W2', ADDR.gwaWan]);
      assert.equal(r2.code, 0, r2.stdout);
    } finally {
      await script(prefix, 'down');
    }
    assert.deepEqual(await prefixed(prefix), []);
    assert.ok(!existsSync(`/run/netns/${prefix}hostb`));
  });

  test('an invalid prefix is refused before anything is touched', T, async () => {
    for (const p of ['a b', '../x', '-x', 'x;y']) {
      const r = await script(p, 'down');
      assert.notEqual(r.code, 0, `prefix '${p}' refused`);
      assert.match(r.stderr, /invalid RGW_PREFIX/);
    }
  });

  test('two testbeds with different prefixes coexist', T, async () => {
    const tb2 = await Testbed.up();
    try {
      assert.notEqual(tb2.prefix, tb.prefix);
      assert.equal((await tb.status()).ok, true);
      assert.equal((await tb2.status()).ok, true);
      for (const t of [tb, tb2]) {
        assert.equal((await ping(t, 'public', ADDR.gwaWan)).code, 0);
        assert.equal((await ping(t, 'hosta', ADDR.hostb)).code, 0);
      }
    } finally {
      await tb2.down();
    }
    assert.deepEqual(await prefixed(tb2.prefix), []);
    assert.equal((await tb.status()).ok, true, 'the other testbed is untouched');
    assert.equal((await ping(tb, 'gwa', ADDR.public)).code, 0);
  });

  test('status fails after down; down leaves no prefixed namespace; down again is ok', T, async () => {
    const prefix = randomPrefix();
    const other = `${prefix.slice(0, -1)}x-`; // shares all but the last characters: must survive
    try {
      assert.equal((await script(prefix, 'up')).code, 0);
      await run('ip', ['netns', 'add', `${other}public`], { check: true });
      assert.equal((await script(prefix, 'status')).code, 0);
      const down = await script(prefix, 'down');
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await prefixed(prefix), []);
      assert.deepEqual(await prefixed(other), [`${other}public`], 'namespaces of another prefix are kept');
      const st = await script(prefix, 'status');
      assert.notEqual(st.code, 0);
      assert.match(st.stdout, /\(absent\)/);
      assert.equal((await script(prefix, 'down')).code, 0, 'down when absent is ok');
    } finally {
      await script(prefix, 'down');
      await script(other, 'down');
    }
  });
});

describe('test/support Testbed', () => {
  test('spawn/ready/stop, and down() kills what the test left running', T, async () => {
    const tb = await Testbed.up();
    try {
      assert.match(tb.ns('gwa'), /^rgwt[0-9a-f]{6}-gwa$/);
      const p = tb.spawn('hosta', 'sh', ['-c', 'echo "up in $(ip -br -4 addr show dev eth0)"; echo oops >&2; exec sleep 1000']);
      const line = await p.ready(/^up in /, 5_000);
      assert.match(line, /192\.168\.0\.100\/24/);
      await p.ready((l, stream) => stream === 'stderr' && l === 'oops', 5_000);
      await assert.rejects(p.ready('never printed', 200), /no line matching/);

      const q = tb.spawn('hostb', 'sleep', ['1000']);
      const stopped = await q.stop();
      assert.deepEqual(stopped, { code: null, signal: 'SIGTERM' });
      await assert.rejects(q.ready('x', 1_000), /exited \(signal SIGTERM\)/);

      const r = await tb.exec('hostb', 'sh', ['-c', 'cat; exit 3'], { input: 'in' });
      assert.deepEqual([r.code, r.stdout], [3, 'in']);
      await assert.rejects(tb.exec('hostb', 'false', [], { check: true }), /exited with 1/);
      const slow = await tb.exec('hostb', 'sleep', ['10'], { timeoutMs: 200 });
      assert.equal(slow.timedOut, true);

      const pid = p.pid!;
      await tb.down();
      assert.equal(p.running, false);
      assert.ok(await gone(pid), 'the process left running is gone');
      assert.deepEqual(await prefixed(tb.prefix), []);
      await tb.down(); // idempotent
    } finally {
      await tb.down();
    }
  });

  for (const mode of ['exit', 'throw', 'SIGTERM', 'SIGINT'] as const) {
    test(`a test process that ends by ${mode} leaves no namespace or process behind`, T, async () => {
      const netnsUrl = new URL('../support/netns.js', import.meta.url).href;
      const child = await writeTempFile(
        `child-${mode}.mjs`,
        `import { Testbed } from ${JSON.stringify(netnsUrl)};
         const tb = await Testbed.up();
         const p = tb.spawn('hosta', 'sleep', ['1000']);
         await p.ready(() => true, 300).catch(() => {});
         console.log(JSON.stringify({ prefix: tb.prefix, pid: p.pid }));
         const mode = ${JSON.stringify(mode)};
         if (mode === 'exit') process.exit(3);
         if (mode === 'throw') setTimeout(() => { throw new Error('boom'); }, 10);
         setTimeout(() => {}, 60_000);`,
      );
      const proc = spawn(process.execPath, [child], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
      proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const info = await new Promise<{ prefix: string; pid: number }>((resolve, reject) => {
        const t = setTimeout(() => {
          void run('ps', ['-eo', 'pid,ppid,stat,wchan:30,etime,args']).then((ps) =>
            reject(new Error(`child printed nothing in 40 s (exit ${proc.exitCode}): ${err}\n${ps.stdout}`)),
          );
        }, 40_000);
        proc.on('exit', (code, sig) => {
          if (!out.includes('{')) {
            clearTimeout(t);
            reject(new Error(`child exited (${code ?? sig}) before printing: ${out}${err}`));
          }
        });
        proc.stdout.on('data', () => {
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) {
            clearTimeout(t);
            resolve(JSON.parse(line) as { prefix: string; pid: number });
          }
        });
      });
      if (mode === 'SIGTERM' || mode === 'SIGINT') {
        assert.equal((await prefixed(info.prefix)).length, NODES.length, 'testbed is up while the child runs');
        proc.kill(mode);
      }
      const [code, signal] = await new Promise<[number | null, string | null]>((r) => proc.on('exit', (c, s) => r([c, s])));
      if (mode === 'exit') assert.equal(code, 3);
      if (mode === 'throw') assert.equal(code, 1, err);
      if (mode === 'SIGTERM' || mode === 'SIGINT') assert.equal(signal, mode, `died of ${mode}: ${code} ${err}`);
      assert.deepEqual(await prefixed(info.prefix), [], `no namespace left: ${err}`);
      assert.ok(await gone(info.pid), 'the spawned process is gone');
    });
  }
});
