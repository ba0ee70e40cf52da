// StunServer on loopback: 127.0.0.1 and 127.0.0.2 (both on lo), two ports each, real datagrams.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { transportAddress } from '../../src/stun/address.js';
import { encode, type OutAttribute } from '../../src/stun/codec.js';
import { StunServer } from '../../src/stun/server.js';
import { until } from '../support/until.js';
import { loopbackServer, memoryLogger, rawClient } from './support.js';

const req = (attributes: OutAttribute[] = [], classic = false) =>
  encode({ classic, cls: 'request', transactionId: randomBytes(classic ? 16 : 12), attributes, fingerprint: !classic });
const change = (changeIp: boolean, changePort: boolean): OutAttribute[] => [{ type: 'change-request', changeIp, changePort }];

describe('STUN server on loopback', () => {
  it('binds four sockets and answers a Binding request from the primary one', async (t) => {
    const { server, endpoints } = await loopbackServer(t);
    assert.equal(endpoints.length, 4);
    const [a1p1, a1p2, a2p1, a2p2] = endpoints;
    assert.deepEqual([a1p1!.address, a1p2!.address, a2p1!.address, a2p2!.address], ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2']);
    assert.equal(a1p1!.port, a2p1!.port);
    assert.equal(a1p2!.port, a2p2!.port);
    assert.notEqual(a1p1!.port, a1p2!.port);

    const c = await rawClient(t);
    c.send(req(), a1p1!);
    const r = await c.next();
    assert.ok(r);
    assert.deepEqual(r.from, a1p1);
    assert.deepEqual(r.msg.xorMappedAddress, transportAddress('127.0.0.1', c.port));
    assert.deepEqual(r.msg.responseOrigin, a1p1);
    assert.deepEqual(r.msg.otherAddress, a2p2);
    assert.equal(r.msg.software, 'realmgw');
    await until('the answer counted', () => server.stats.answered >= 1);
    assert.equal(server.stats.answered, 1);
  });

  it('CHANGE-REQUEST is answered from the socket it asks for', async (t) => {
    const { server, endpoints } = await loopbackServer(t);
    const [a1p1, a1p2, a2p1, a2p2] = endpoints;
    const c = await rawClient(t);
    for (const [ip, port, want] of [
      [true, true, a2p2],
      [false, true, a1p2],
      [true, false, a2p1],
    ] as const) {
      c.send(req(change(ip, port)), a1p1!);
      const r = await c.next();
      assert.ok(r, `no answer for change ip=${ip} port=${port}`);
      assert.deepEqual(r.from, want, 'the datagram really comes from that socket');
      assert.deepEqual(r.msg.responseOrigin, want);
      assert.deepEqual(r.msg.otherAddress, a2p2);
    }
    await until('the answers counted', () => server.stats.answeredChanged >= 3);
    assert.equal(server.stats.answeredChanged, 3);
  });

  it('answers classic RFC 3489 clients in their format, CHANGE-REQUEST included', async (t) => {
    const { server, endpoints } = await loopbackServer(t);
    const [a1p1, , , a2p2] = endpoints;
    const c = await rawClient(t);
    c.send(req(change(true, true), true), a1p1!);
    const r = await c.next();
    assert.ok(r);
    assert.equal(r.msg.classic, true);
    assert.deepEqual(r.from, a2p2);
    assert.deepEqual(r.msg.mappedAddress, transportAddress('127.0.0.1', c.port));
    assert.deepEqual(r.msg.sourceAddress, a2p2);
    assert.deepEqual(r.msg.changedAddress, a2p2);
    await until('the answer counted', () => server.stats.answeredClassic >= 1);
    assert.equal(server.stats.answeredClassic, 1);
  });

  it('bad input is dropped or refused per the RFC, counted, logged - and the server keeps answering', async (t) => {
    const { server, endpoints, lines } = await loopbackServer(t);
    const primary = endpoints[0]!;
    const c = await rawClient(t);

    c.send(Buffer.from('\x16\x03\x01 not stun at all'), primary);
    c.send(encode({ cls: 'success', transactionId: randomBytes(12) }), primary);
    const badFp = req();
    badFp[badFp.length - 1]! ^= 1;
    c.send(badFp, primary);
    assert.equal(await c.next(300), undefined, 'garbage, responses and bad fingerprints get no answer');

    c.send(req([{ type: 'raw', code: 0x0003, value: Buffer.from([1]) }]), primary);
    assert.deepEqual((await c.next())?.msg.errorCode, { code: 400, reason: 'Bad Request' });
    c.send(req([{ type: 'raw', code: 0x7abc, value: Buffer.alloc(4) }]), primary);
    const r420 = await c.next();
    assert.equal(r420?.msg.errorCode?.code, 420);
    assert.deepEqual(r420?.msg.unknownAttributes, [0x7abc]);

    c.send(req(), primary);
    assert.equal((await c.next())?.msg.cls, 'success');
    await until('the answer counted', () => server.stats.answered >= 1);
    const s = server.stats;
    assert.deepEqual(
      [s.received, s.droppedMalformed, s.droppedNotRequest, s.droppedBadFingerprint, s.error400, s.error420, s.answered],
      [6, 1, 1, 1, 1, 1, 1],
    );
    assert.ok(lines.some((l) => l.msg === 'STUN packet dropped' && l.reason === 'malformed'));
    assert.ok(lines.some((l) => l.msg === 'STUN request refused' && l.code === 420));
  });

  it('one address: no OTHER-ADDRESS, CHANGE-REQUEST gets 420', async (t) => {
    const { endpoints } = await loopbackServer(t, { alternateAddress: undefined, alternatePort: undefined });
    assert.equal(endpoints.length, 1);
    const c = await rawClient(t);
    c.send(req(), endpoints[0]!);
    assert.equal((await c.next())?.msg.otherAddress, undefined);
    c.send(req(change(false, true)), endpoints[0]!);
    const r = await c.next();
    assert.equal(r?.msg.errorCode?.code, 420);
    assert.deepEqual(r?.from, endpoints[0]);
  });

  it('per-source rate limit: a burst is answered, the rest dropped and counted, one warning logged', async (t) => {
    const { server, endpoints, lines } = await loopbackServer(t, { rateLimit: { perSourceRate: 0.5, perSourceBurst: 3 } });
    const c = await rawClient(t);
    for (let i = 0; i < 10; i++) c.send(req(), endpoints[0]!);
    await until('all 10 judged and the burst answered', () => server.stats.received === 10 && c.inbox.length >= 3);
    assert.equal(c.inbox.length, 3);
    assert.equal(server.stats.droppedRateLimited, 7);
    assert.equal(server.stats.trackedSources, 1);
    assert.equal(lines.filter((l) => l.msg.includes('rate limit')).length, 1);
  });

  it('survives a burst of random and truncated datagrams and still answers', async (t) => {
    const { server, endpoints } = await loopbackServer(t, { rateLimit: { perSourceBurst: 1000, perSourceRate: 1000 } });
    const c = await rawClient(t);
    const valid = req(change(true, true));
    for (let i = 0; i < 200; i++) c.send(randomBytes(i % 60), endpoints[i % 4]!);
    for (let n = 0; n < valid.length; n++) c.send(valid.subarray(0, n), endpoints[0]!);
    await until('every datagram received', () => server.stats.received >= 200 + valid.length);
    c.inbox.length = 0; // a random datagram may happen to be a valid request; only the server's health matters here
    c.send(req(), endpoints[0]!);
    assert.equal((await c.next())?.msg.cls, 'success');
    assert.ok(server.stats.received >= 200 + valid.length + 1);
  });

  it('refuses options that cannot make a server', () => {
    const { logger } = memoryLogger();
    for (const bad of [
      { address: 'localhost', port: 3478 },
      { address: '127.0.0.1', port: 3478, alternateAddress: '127.0.0.1' },
      { address: '127.0.0.1', port: 3478, alternateAddress: '::1' },
      { address: '127.0.0.1', port: 70000 },
      { address: '127.0.0.1', port: 3478, alternatePort: 3478 },
    ]) {
      assert.throws(() => new StunServer({ ...bad, logger }), TypeError, JSON.stringify(bad));
    }
  });

  it('start fails cleanly when a port is taken (nothing left bound), and stop releases every socket', async (t) => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.2', r));
    t.after(() => blocker.close());
    const taken = blocker.address().port;
    const { logger } = memoryLogger();
    const s = new StunServer({ address: '127.0.0.1', port: taken, alternateAddress: '127.0.0.2', logger });
    await assert.rejects(s.start(), /cannot bind 127\.0\.0\.2:\d+/);
    assert.deepEqual(s.endpoints(), []);
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(taken, '127.0.0.1', r)); // would fail if the server kept it
    await new Promise<void>((r) => probe.close(() => r()));

    const ok = new StunServer({ address: '127.0.0.1', port: 0, alternatePort: 0, logger });
    await ok.start();
    const ports = ok.endpoints().map((e) => e.port);
    await ok.stop();
    await ok.stop();
    for (const p of ports) {
      const again = dgram.createSocket('udp4');
      await new Promise<void>((r) => again.bind(p, '127.0.0.1', r));
      await new Promise<void>((r) => again.close(() => r()));
    }
  });
});
