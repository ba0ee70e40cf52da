/**
 * Who may consume a reservation, in both confirmation modes, against the real kernel in a testbed:
 * - a reservation bound to a client subnet (the query's ECS) refuses a first packet from elsewhere, which does
 *   not consume it, and still admits its client;
 * - a TCP reservation is consumed only by a completed handshake: spoofed SYNs (hping3, from addresses that never
 *   see the host's SYN-ACK) consume nothing, the real client then connects, and a second connection is refused;
 *   two handshakes racing for one reservation: one consumes it, the other is reset at its ACK;
 *   a reservation that only ever saw spoofed SYNs expires, counted as expired.
 * Reservations are made by the pool and data plane directly (test/support/dataplane-harness.ts, in the gateway's
 * namespace), so the binding is tested without the DNS front.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADDR, IFACE, Testbed, type NsProcess } from '../support/netns.js';
import { writeGatewayConfig } from '../support/gateway.js';
import { DIST_DIR } from '../support/repo.js';

const FLOW_SERVER = path.join(DIST_DIR, 'test', 'support', 'flow-server.js');
const FLOW_CLIENT = path.join(DIST_DIR, 'test', 'support', 'flow-client.js');
const HARNESS = path.join(DIST_DIR, 'test', 'support', 'dataplane-harness.js');
/** A second address of the public client: a foreign source on the same link. */
const FOREIGN = '100.64.0.77';
/** Sources of spoofed SYNs: nobody answers for them, so their handshakes never complete. */
const SPOOFED = '100.64.0.201';

interface Talk {
  ok: boolean;
  reply?: string;
  error?: string;
}
interface HarnessStats {
  dataplane: { confirmed: number; stolenRefused: number; handshakeRefused: number; synsForwarded: number };
  pool: { reserved: number; consumed: number; expired: number; live: number };
  live: { address: string; protocol: number; port: number }[];
}

for (const confirm of ['nfqueue', 'nftset'] as const) {
  describe(`who consumes a reservation, ${confirm} confirmation`, { timeout: 240_000 }, () => {
    let tb: Testbed;
    let harness: NsProcess;
    let server: NsProcess;

    /** Sends one command to the harness and waits for its answer line. */
    const ask = async <T>(cmd: object, answer: string): Promise<T> => {
      const from = harness.lineCount;
      harness.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
      const line = await harness.ready((l) => l.startsWith('{') && (l.includes(`"op":"${answer}"`) || l.includes('"op":"error"')), 10_000, { fromLine: from });
      const msg = JSON.parse(line) as { op: string; message?: string };
      if (msg.op === 'error') throw new Error(msg.message);
      return msg as T;
    };
    const reserve = async (protocol: number, port: number, opts: { source?: string; lifetimeMs?: number } = {}): Promise<string> =>
      (await ask<{ address: string }>({ op: 'reserve', host: 'hosta.gwa.demo', protocol, port, lifetimeMs: 10_000, ...opts }, 'reserved')).address;
    const stats = () => ask<HarnessStats>({ op: 'stats' }, 'stats');
    /** Polls the stats (bounded) until `ok` holds. */
    const until = async (what: string, ok: (s: HarnessStats) => boolean, timeoutMs = 10_000): Promise<HarnessStats> => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const s = await stats();
        if (ok(s)) return s;
        if (Date.now() > end) assert.fail(`${what}: ${JSON.stringify(s)}`);
        await sleep(100);
      }
    };
    /** A flow from the public client, from its own address or from `source` (one of its addresses). */
    const talk = async (address: string, proto: 'tcp' | 'udp', port: number, source?: string): Promise<Talk> => {
      if (!source) {
        const r = await tb.exec('public', process.execPath, [FLOW_CLIENT], { input: JSON.stringify({ op: 'connect', address, proto, port }), check: true });
        return JSON.parse(r.stdout) as Talk;
      }
      const r = await tb.exec('public', process.execPath, ['--input-type=module', '-e', FROM_SOURCE, address, proto, String(port), source], { check: true });
      return JSON.parse(r.stdout) as Talk;
    };
    const reachedHosta = (r: Talk, from: string, what: string) => {
      assert.ok(r.ok, `${what}: ${JSON.stringify(r)}`);
      assert.match(r.reply!, new RegExp(`^hosta saw ${from.replace(/\./g, '\\.')}:\\d+ hello$`), `${what}: DNATed to hosta, real source kept`);
    };
    const spoofSyns = (address: string, port: number, count: number) =>
      // hping3 exits non-zero when nothing answers, which is the point
      tb.sh('public', `hping3 -q -S -p ${port} -a ${SPOOFED} -c ${count} -i u20000 ${address} >/dev/null 2>&1; true`);
    /** The gateway's conntrack entries from the spoofed source to `address`. */
    const spoofedEntries = async (address: string): Promise<number> => {
      const r = await tb.sh('gwa', `conntrack -L -p tcp -s ${SPOOFED} -d ${address} 2>/dev/null | wc -l`);
      return Number(r.stdout.trim());
    };

    before(async () => {
      tb = await Testbed.up();
      await tb.sh('public', `ip addr add ${FOREIGN}/24 dev ${IFACE.public.eth}`, { check: true });
      server = tb.spawn('hosta', process.execPath, [FLOW_SERVER, '--tcp', '5000,5002,5003,5004', '--udp', '5001', '--name', 'hosta']);
      await server.ready('listening');
      const { configFile } = await writeGatewayConfig({ dataplane: { confirm } });
      harness = tb.spawn('gwa', process.execPath, [HARNESS, '--config', configFile], { stdin: 'pipe' });
      await harness.ready('"op":"ready"', 20_000);
    });

    after(async () => {
      await harness?.stop();
      await server?.stop();
      await tb?.down();
    });

    test('TCP bound to a /32: a foreign source is refused and consumes nothing; the bound client gets through, once', async () => {
      const address = await reserve(6, 5000, { source: `${ADDR.public}/32` });
      const before = await stats();
      const foreign = await talk(address, 'tcp', 5000, FOREIGN);
      assert.deepEqual(foreign, { ok: false, error: 'ECONNREFUSED' }, 'foreign source: reset');
      const after = await until('the stolen first packet is counted', (s) => s.dataplane.stolenRefused > before.dataplane.stolenRefused);
      assert.ok(after.live.some((r) => r.address === address && r.port === 5000), 'the reservation is still pending');
      reachedHosta(await talk(address, 'tcp', 5000), ADDR.public, 'the bound client');
      await until('the handshake consumed it', (s) => s.pool.consumed === before.pool.consumed + 1);
      assert.equal((await talk(address, 'tcp', 5000)).error, 'ECONNREFUSED', 'single use: a second connection is refused');
    });

    test('UDP bound to a /28: a foreign source is refused and consumes nothing; the bound client gets through, once', async () => {
      const address = await reserve(17, 5001, { source: '100.64.0.96/28' });
      const before = await stats();
      assert.equal((await talk(address, 'udp', 5001, FOREIGN)).ok, false, 'foreign source refused');
      await until('the stolen first packet is counted', (s) => s.dataplane.stolenRefused > before.dataplane.stolenRefused);
      reachedHosta(await talk(address, 'udp', 5001), ADDR.public, 'the bound client (inside the /28)');
      await until('the first packet consumed it', (s) => s.pool.consumed === before.pool.consumed + 1);
      assert.equal((await talk(address, 'udp', 5001)).ok, false, 'single use: a second flow is refused');
    });

    test('spoofed SYNs consume nothing: the real client completes its handshake and consumes; a second connection is refused', async () => {
      const address = await reserve(6, 5002);
      const before = await stats();
      await spoofSyns(address, 5002, 3);
      // the SYNs were DNATed (a conntrack entry each) and the host answered them, to nobody
      const deadline = Date.now() + 10_000;
      while ((await spoofedEntries(address)) < 3) {
        assert.ok(Date.now() < deadline, 'the spoofed SYNs reach conntrack');
        await sleep(100);
      }
      const mid = await stats();
      assert.equal(mid.pool.consumed, before.pool.consumed, 'no spoofed SYN consumed the reservation');
      assert.ok(mid.live.some((r) => r.address === address && r.port === 5002), 'the reservation is still pending');
      reachedHosta(await talk(address, 'tcp', 5002), ADDR.public, 'the real client');
      await until('the handshake consumed it', (s) => s.pool.consumed === before.pool.consumed + 1);
      assert.equal((await talk(address, 'tcp', 5002)).error, 'ECONNREFUSED', 'single use: a second connection is refused');
    });

    test('two handshakes racing for one reservation: one consumes it, the other is reset at its ACK', async () => {
      const address = await reserve(6, 5004);
      const before = await stats();
      // hold both clients' handshake ACKs (and data) back until both SYNs went through
      await tb.sh(
        'public',
        `nft add table ip rgwrace && nft add chain ip rgwrace out '{ type filter hook output priority 0; }' && nft add rule ip rgwrace out ip daddr ${address} tcp dport 5004 tcp flags \\& syn == 0 drop`,
        { check: true },
      );
      try {
        const both = Promise.all([talk(address, 'tcp', 5004), talk(address, 'tcp', 5004)]);
        const deadline = Date.now() + 10_000;
        for (;;) {
          const r = await tb.sh('gwa', `conntrack -L -p tcp -d ${address} --dport 5004 2>/dev/null | grep -c SYN_RECV; true`);
          if (Number(r.stdout.trim()) >= 2) break;
          assert.ok(Date.now() < deadline, 'both SYNs answered by the host');
          await sleep(20);
        }
        await tb.sh('public', 'nft delete table ip rgwrace', { check: true });
        const results = await both;
        assert.equal(results.filter((r) => r.ok).length, 1, `exactly one connection gets through: ${JSON.stringify(results)}`);
        assert.ok(results.some((r) => !r.ok && r.error === 'ECONNRESET'), `the other is reset: ${JSON.stringify(results)}`);
      } finally {
        await tb.sh('public', 'nft delete table ip rgwrace 2>/dev/null; true');
      }
      const s = await until('one consumption, one refused handshake', (x) => x.pool.consumed === before.pool.consumed + 1 && x.dataplane.handshakeRefused > before.dataplane.handshakeRefused);
      assert.equal(s.pool.consumed, before.pool.consumed + 1);
    });

    test('a reservation that only saw spoofed SYNs expires unused, counted as expired', async () => {
      const address = await reserve(6, 5003, { lifetimeMs: 1500 });
      const before = await stats();
      await spoofSyns(address, 5003, 2);
      const s = await until('it expires', (x) => x.pool.expired > before.pool.expired);
      assert.equal(s.pool.consumed, before.pool.consumed, 'never consumed');
      assert.equal((await talk(address, 'tcp', 5003)).error, 'ECONNREFUSED', 'expired: refused');
    });
  });
}

/** Node script (run in the public namespace): one TCP or UDP exchange from a given local address, as JSON. */
const FROM_SOURCE = `
import net from 'node:net';
import dgram from 'node:dgram';
const [address, proto, port, source] = process.argv.slice(-4);
const done = (r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); };
setTimeout(() => done({ ok: false, error: 'timeout' }), 2000);
if (proto === 'udp') {
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => done({ ok: true, reply: m.toString().trim() }));
  s.on('error', (e) => done({ ok: false, error: e.code ?? e.message }));
  s.bind(0, source, () => s.send('hello', Number(port), address));
} else {
  let reply = '';
  const c = net.connect({ host: address, port: Number(port), localAddress: source }, () => c.write('hello\\n'));
  c.on('data', (d) => { reply += d; if (reply.includes('\\n')) done({ ok: true, reply: reply.trim() }); });
  c.on('error', (e) => done({ ok: false, error: e.code ?? e.message }));
}
`;
