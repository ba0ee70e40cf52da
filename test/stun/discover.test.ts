// discoverNat against servers on loopback: no NAT there, so 'open'; plus the paths where servers are
// missing, dead, lying or limited - every one a result, within its time budget.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { decode, encode } from '../../src/stun/codec.js';
import { discoverNat } from '../../src/stun/discover.js';
import { loopbackServer } from './support.js';

const FAST = { timeoutMs: 400, retries: 2 };
const ap = (e: { address: string; port: number }) => ({ address: e.address, port: e.port });

/** A UDP port on 127.0.0.1 where nothing listens (bound, then released). */
async function deadPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('NAT discovery on loopback', () => {
  it('RFC 5780 against a four-socket server: open, endpoint-independent mapping and filtering', async (t) => {
    const { endpoints, server } = await loopbackServer(t);
    const r = await discoverNat({ servers: [endpoints[0]!], ...FAST });
    assert.equal(r.method, 'rfc5780');
    assert.deepEqual([r.classic, r.mapping, r.filtering], ['open', 'endpoint-independent', 'endpoint-independent']);
    assert.equal(r.mappedAddress, '127.0.0.1');
    assert.equal(r.mappedPort, r.details.local!.port);
    assert.deepEqual(r.server, ap(endpoints[0]!));
    assert.equal(r.details.otherAddress, `127.0.0.2:${endpoints[3]!.port}`);
    const f2 = r.details.tests.find((x) => x.name === 'filtering-II');
    assert.equal(f2?.from, `127.0.0.2:${endpoints[3]!.port}`, 'the change test was answered from the alternate socket');
    assert.ok(server.stats.answeredChanged >= 1);
  });

  it('the classic RFC 3489 algorithm against the same server: open', async (t) => {
    const { endpoints, server } = await loopbackServer(t);
    const r = await discoverNat({ servers: [endpoints[0]!], ...FAST, mode: 'rfc3489' });
    assert.equal(r.method, 'rfc3489');
    assert.equal(r.classic, 'open');
    assert.ok(r.details.tests.every((x) => x.classic));
    assert.ok(server.stats.answeredClassic >= 2);
  });

  it('a server with one address: the mapped address, behaviour unknown (no crash, no guess)', async (t) => {
    const { endpoints } = await loopbackServer(t, { alternateAddress: undefined, alternatePort: undefined });
    const r = await discoverNat({ servers: [endpoints[0]!], ...FAST });
    assert.equal(r.method, 'binding');
    assert.equal(r.mappedAddress, '127.0.0.1');
    assert.deepEqual([r.classic, r.mapping, r.filtering], ['unknown', 'endpoint-independent', 'unknown']);
    assert.ok(r.details.notes.some((n) => n.includes('no alternate address')));
  });

  it('prefers a later server that can test behaviour over an earlier one that cannot', async (t) => {
    const single = await loopbackServer(t, { alternateAddress: undefined, alternatePort: undefined });
    const full = await loopbackServer(t);
    const r = await discoverNat({ servers: [single.endpoints[0]!, full.endpoints[0]!], ...FAST });
    assert.equal(r.method, 'rfc5780');
    assert.deepEqual(r.server, ap(full.endpoints[0]!));
  });

  it('servers are tried in order: a dead one costs one time budget, the next one answers', async (t) => {
    const { endpoints } = await loopbackServer(t);
    const dead = { address: '127.0.0.1', port: await deadPort() };
    const r = await discoverNat({ servers: [dead, endpoints[0]!], ...FAST });
    assert.equal(r.classic, 'open');
    assert.deepEqual(r.server, ap(endpoints[0]!));
    const first = r.details.tests[0]!;
    assert.deepEqual([first.to, first.outcome, first.attempts], [`127.0.0.1:${dead.port}`, 'timeout', 3]);
  });

  it('nothing answers: "blocked" after one request per server with its retransmissions, never a throw', async () => {
    const servers = [
      { address: '127.0.0.1', port: await deadPort() },
      { address: '127.0.0.1', port: await deadPort() },
    ];
    const r = await discoverNat({ servers, timeoutMs: 300, retries: 1 });
    assert.deepEqual([r.classic, r.mapping, r.filtering, r.method], ['blocked', 'unknown', 'unknown', 'none']);
    assert.equal(r.mappedAddress, undefined);
    // the budget is spent as requests, not as time: each server costs one request of retries + 1 sends
    assert.deepEqual(
      r.details.tests.map((x) => [x.to, x.outcome, x.attempts]),
      servers.map((s) => [`127.0.0.1:${s.port}`, 'timeout', 2]),
    );
  });

  it('a local port already in use, no servers, bad servers: "unknown" with the reason', async (t) => {
    const busy = dgram.createSocket('udp4');
    await new Promise<void>((r) => busy.bind(0, '127.0.0.1', r));
    t.after(() => busy.close());
    const r1 = await discoverNat({ servers: [{ address: '127.0.0.1', port: 3478 }], localAddress: '127.0.0.1', localPort: busy.address().port, ...FAST });
    assert.equal(r1.classic, 'unknown');
    assert.match(r1.details.errors[0]!, /cannot bind/);

    assert.equal((await discoverNat({ servers: [], ...FAST })).classic, 'unknown');
    const r3 = await discoverNat({ servers: [{ address: '127.0.0.1', port: 70000 }, { address: '::1', port: 3478 }, { address: 42 as unknown as string, port: 3478 }], ...FAST });
    assert.equal(r3.classic, 'unknown');
    assert.equal(r3.details.errors.length, 3);
  });

  it('a host name is resolved', async (t) => {
    const { endpoints } = await loopbackServer(t);
    const r = await discoverNat({ servers: [{ address: 'localhost', port: endpoints[0]!.port }], ...FAST });
    assert.equal(r.classic, 'open');
  });

  it('a server that claims an alternate address but answers change requests from its own socket: filtering unknown', async (t) => {
    // a liar: every request answered from here, OTHER-ADDRESS pointing elsewhere
    const liar = dgram.createSocket('udp4');
    liar.on('message', (m, rinfo) => {
      const d = decode(m);
      if (!d.ok || d.message.cls !== 'request') return;
      const you = { family: 'IPv4', address: rinfo.address, port: rinfo.port } as const;
      const out = encode({
        cls: 'success',
        transactionId: d.message.transactionId,
        attributes: [
          { type: 'xor-mapped-address', address: you },
          { type: 'other-address', address: { family: 'IPv4', address: '127.0.0.2', port: 9 } },
        ],
      });
      liar.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => liar.bind(0, '127.0.0.1', r));
    t.after(() => liar.close());
    const r = await discoverNat({ servers: [{ address: '127.0.0.1', port: liar.address().port }], ...FAST });
    assert.equal(r.method, 'rfc5780');
    assert.deepEqual([r.classic, r.filtering], ['unknown', 'unknown']);
    assert.ok(r.details.notes.some((n) => n.includes('not from the changed address')));
  });

  it('a rate-limited server: discovery still ends with a result (lost answers read as filtering, as in any STUN test)', async (t) => {
    const { endpoints } = await loopbackServer(t, { rateLimit: { perSourceRate: 0.1, perSourceBurst: 1 } });
    const r = await discoverNat({ servers: [endpoints[0]!], timeoutMs: 200, retries: 1 });
    assert.equal(r.mappedAddress, '127.0.0.1');
    assert.equal(r.classic, 'symmetric udp firewall');
    assert.ok(r.details.tests.filter((x) => x.outcome === 'timeout').length >= 2);
  });
});
