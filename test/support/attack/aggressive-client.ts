/**
 * The "real aggressive client" of the attack suite: one genuine host (a real address that receives answers)
 * asking the gateway directly for service names at N queries/s and never connecting to anything, so every
 * address it obtains is a reservation that expires unused. It behaves like a well-written stub otherwise:
 *   - UDP first, EDNS0 with a DNS cookie (RFC 7873): its client cookie, and the server cookie of the last
 *     answer echoed back; BADCOOKIE -> the same query once more with the fresh cookie;
 *   - TC=1 -> the same query over TCP (one connection, pipelined, opened again when the gateway closes it).
 *
 *   node aggressive-client.js '{"server":"100.64.1.130","bind":"100.64.3.100","names":[...],"rate":200,"count":6000,"seconds":30}'
 *
 * Bounded: stops after `count` queries or `seconds`, or on SIGTERM/SIGINT; waits at most 1.5 s for answers
 * still due, then prints one JSON report on stdout. Prints "sending" once the first query is out.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { BADCOOKIE, ednsWithCookie, fullRcode, serverCookieOf } from './dns-cookie.js';
import type { AggressiveJob } from './attackers.js';


const UDP_TIMEOUT_MS = 1000;
const MAX_TCP_PENDING = 2000;
const DRAIN_MS = 1500;

const job = JSON.parse(process.argv[2] ?? '{}') as AggressiveJob;
if (!job.server || !Array.isArray(job.names) || !job.names.length || !(job.rate > 0) || !(job.count > 0) || !(job.seconds > 0) || job.seconds > 600) {
  process.stderr.write('aggressive-client: job needs server, names, rate > 0, count > 0, 0 < seconds <= 600\n');
  process.exit(2);
}
const port = job.port ?? 53;
const clientCookie = randomBytes(8);
let serverCookie: Buffer | undefined;

const report = {
  sent: 0,
  seconds: 0,
  rate: 0,
  /** answers that carried an address: each one a reservation the client will never use */
  addresses: 0,
  udp: { answers: 0, addresses: 0, tc: 0, timeouts: 0, badCookie: 0 },
  tcp: { queries: 0, answers: 0, addresses: 0, empty: 0, lost: 0, skipped: 0, connections: 0 },
  serverCookieSeen: false,
  rcodes: {} as Record<string, number>,
};

function query(id: number, name: string): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ name, type: 'A', class: 'IN' }], additionals: ednsWithCookie(clientCookie, serverCookie) });
}

function learn(p: dnsPacket.Packet): void {
  const c = serverCookieOf(p, clientCookie);
  if (c) {
    serverCookie = c;
    report.serverCookieSeen = true;
  }
}

function hasAddress(p: dnsPacket.Packet): boolean {
  return !!p.answers?.some((a) => a.type === 'A');
}

/* ---------- UDP ---------- */

const udp = dgram.createSocket('udp4');
const pendingUdp = new Map<number, { name: string; at: number; retried: boolean }>();

function freshId(inUse: Map<number, unknown>): number {
  for (;;) {
    const id = Math.floor(Math.random() * 65536);
    if (!inUse.has(id)) return id;
  }
}

function sendUdp(name: string, retried = false): void {
  const id = freshId(pendingUdp);
  pendingUdp.set(id, { name, at: performance.now(), retried });
  udp.send(query(id, name), port, job.server);
}

udp.on('message', (m) => {
  let p: dnsPacket.Packet;
  try {
    p = dnsPacket.decode(m);
  } catch {
    return;
  }
  const q = pendingUdp.get(p.id ?? -1);
  if (!q) return;
  pendingUdp.delete(p.id!);
  report.udp.answers++;
  learn(p);
  const rcode = fullRcode(p);
  report.rcodes[rcode] = (report.rcodes[rcode] ?? 0) + 1;
  if (rcode === BADCOOKIE) {
    report.udp.badCookie++;
    if (!q.retried) sendUdp(q.name, true);
  } else if ((p.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) {
    report.udp.tc++;
    sendTcp(q.name);
  } else if (hasAddress(p)) {
    report.udp.addresses++;
    report.addresses++;
  }
});
udp.on('error', () => undefined); // ICMP errors and the like: the query simply times out

/* ---------- TCP ---------- */

let tcp: net.Socket | undefined;
let tcpBuf = Buffer.alloc(0);
const pendingTcp = new Map<number, string>();

function openTcp(): net.Socket {
  const s = net.connect({ host: job.server, port, localAddress: job.bind });
  report.tcp.connections++;
  s.setNoDelay(true);
  s.on('data', (d) => {
    tcpBuf = Buffer.concat([tcpBuf, d]);
    while (tcpBuf.length >= 2 && tcpBuf.length >= 2 + tcpBuf.readUInt16BE(0)) {
      const len = tcpBuf.readUInt16BE(0);
      const msg = tcpBuf.subarray(2, 2 + len);
      tcpBuf = tcpBuf.subarray(2 + len);
      let p: dnsPacket.Packet;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        continue;
      }
      if (!pendingTcp.delete(p.id ?? -1)) continue;
      report.tcp.answers++;
      learn(p);
      const rcode = fullRcode(p);
      report.rcodes[rcode] = (report.rcodes[rcode] ?? 0) + 1;
      if (hasAddress(p)) {
        report.tcp.addresses++;
        report.addresses++;
      } else report.tcp.empty++;
    }
  });
  const gone = () => {
    if (tcp !== s) return;
    tcp = undefined;
    tcpBuf = Buffer.alloc(0);
    report.tcp.lost += pendingTcp.size;
    pendingTcp.clear();
  };
  s.on('error', gone);
  s.on('close', gone);
  return s;
}

function sendTcp(name: string): void {
  if (pendingTcp.size >= MAX_TCP_PENDING) {
    report.tcp.skipped++;
    return;
  }
  tcp ??= openTcp();
  const id = freshId(pendingTcp);
  pendingTcp.set(id, name);
  const q = query(id, name);
  const framed = Buffer.alloc(2 + q.length);
  framed.writeUInt16BE(q.length, 0);
  q.copy(framed, 2);
  report.tcp.queries++;
  tcp.write(framed);
}

/* ---------- schedule ---------- */

let stopping = false;
const t0 = performance.now();

function finish(): void {
  if (stopping) return;
  stopping = true;
  report.seconds = Number(((performance.now() - t0) / 1000).toFixed(3));
  report.rate = Number((report.sent / Math.max(report.seconds, 0.001)).toFixed(1));
  setTimeout(() => {
    report.udp.timeouts += pendingUdp.size;
    report.tcp.lost += pendingTcp.size;
    process.stdout.write(JSON.stringify(report) + '\n');
    udp.close();
    tcp?.destroy();
    process.exit(0);
  }, DRAIN_MS);
}

function tick(): void {
  if (stopping) return;
  const now = performance.now();
  if (now - t0 >= job.seconds * 1000 || report.sent >= job.count) return finish();
  const due = Math.min(job.count, Math.floor(((now - t0) / 1000) * job.rate) + 1);
  while (report.sent < due) sendUdp(job.names[report.sent++ % job.names.length]);
  for (const [id, q] of pendingUdp) {
    if (now - q.at < UDP_TIMEOUT_MS) break; // insertion order = send order
    pendingUdp.delete(id);
    report.udp.timeouts++;
  }
  setTimeout(tick, 2);
}

process.on('SIGTERM', finish);
process.on('SIGINT', finish);
udp.bind({ address: job.bind ?? '0.0.0.0', port: 0 }, () => {
  tick();
  process.stdout.write('sending\n');
});
