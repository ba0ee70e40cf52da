/**
 * The aggressive client behaves like a cookie-aware stub that follows TC to TCP (what issue 8's defences will
 * ask of it), checked against a scripted server on loopback: UDP without our server cookie -> BADCOOKIE with a
 * fresh one; UDP with it -> TC=1; TCP -> an address. No root, no namespaces.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { BADCOOKIE, COOKIE_OPTION } from '../support/attack/dns-cookie.js';
import { DIST_DIR } from '../support/repo.js';

const CLIENT = path.join(DIST_DIR, 'test', 'support', 'attack', 'aggressive-client.js');
const SERVER_COOKIE = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

type Opt = { code: number; data: Buffer };
const cookieOf = (q: dnsPacket.Packet): Buffer | undefined =>
  ((q.additionals?.find((a) => a.type === 'OPT') as unknown as { options?: Opt[] })?.options ?? []).find((o) => o.code === COOKIE_OPTION)?.data;

function reply(q: dnsPacket.Packet, opts: { rcode?: number; tc?: boolean; address?: string }): Buffer {
  const client = cookieOf(q)?.subarray(0, 8) ?? Buffer.alloc(8);
  const rcode = opts.rcode ?? 0;
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (opts.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | (rcode & 0xf),
    questions: q.questions,
    answers: opts.address ? [{ type: 'A', name: q.questions![0].name, ttl: 0, data: opts.address }] : [],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: rcode >> 4, ednsVersion: 0, flags: 0, options: [{ code: COOKIE_OPTION, data: Buffer.concat([client, SERVER_COOKIE]) }] } as unknown as dnsPacket.Answer],
  });
}

describe('aggressive client', () => {
  const udp = dgram.createSocket('udp4');
  let tcp: net.Server;
  let port = 0;
  const seen = { udpWithoutCookie: 0, udpWithCookie: 0, tcp: 0 };

  before(async () => {
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    port = udp.address().port;
    udp.on('message', (m, from) => {
      const q = dnsPacket.decode(m);
      const echoed = cookieOf(q)?.subarray(8);
      if (echoed?.equals(SERVER_COOKIE)) {
        seen.udpWithCookie++;
        udp.send(reply(q, { tc: true }), from.port, from.address);
      } else {
        seen.udpWithoutCookie++;
        udp.send(reply(q, { rcode: BADCOOKIE }), from.port, from.address);
      }
    });
    tcp = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const q = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          seen.tcp++;
          const a = reply(q, { address: '100.64.1.131' });
          const framed = Buffer.alloc(2 + a.length);
          framed.writeUInt16BE(a.length, 0);
          a.copy(framed, 2);
          sock.write(framed);
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', r));
  });
  after(() => {
    udp.close();
    tcp.close();
  });

  it('echoes the server cookie, retries a BADCOOKIE once, follows TC to TCP, and stops at its count', async () => {
    const job = { server: '127.0.0.1', port, bind: '127.0.0.1', names: ['tcp.hosta.gwa.demo', 'udp.hostb.gwa.demo'], rate: 100, count: 20, seconds: 30 };
    const child = spawn(process.execPath, [CLIENT, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, out);
    const report = JSON.parse(out.trim().split('\n').pop()!);
    assert.equal(report.sent, 20, 'exactly its count of new queries');
    assert.equal(report.serverCookieSeen, true);
    assert.ok(report.udp.badCookie >= 1, JSON.stringify(report));
    assert.ok(seen.udpWithCookie >= 1, 'later queries carry the server cookie');
    // Every query answered with TC went to TCP and got its address there; nothing was lost or skipped.
    assert.equal(report.tcp.queries, report.udp.tc);
    assert.equal(report.tcp.addresses, report.tcp.queries);
    assert.equal(report.addresses, report.tcp.addresses);
    assert.equal(seen.tcp, report.tcp.queries);
    assert.equal(report.tcp.lost + report.tcp.skipped, 0);
    assert.equal(report.sent + report.udp.badCookie, seen.udpWithCookie + seen.udpWithoutCookie, 'one UDP retry per BADCOOKIE, no more');
  });
});
