/**
 * Echo server for data-plane tests, run inside a host namespace:
 *   ip netns exec NS node flow-server.js --tcp 22,80,5000 --udp 5001
 * Each TCP connection / UDP datagram is answered with `<name> saw <peer address>:<peer port> <payload>`, so a
 * client proves both reachability and that the host saw its real source address. `--hold PORTS` serves
 * long-lived TCP connections that answer every line the same way; `--http PORTS` answers every HTTP request
 * with 200 and the body `<name> saw <peer address>:<peer port> <method> <path>`. Prints "listening".
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { tcp: { type: 'string', default: '' }, udp: { type: 'string', default: '' }, hold: { type: 'string', default: '' }, http: { type: 'string', default: '' }, name: { type: 'string' } },
});
const name = values.name ?? os.hostname();
const ports = (list: string) => list.split(',').filter(Boolean).map(Number);
let pending = 0;
const ready = () => --pending === 0 && process.stdout.write('listening\n');

for (const port of ports(values.tcp!)) {
  pending++;
  net
    .createServer((sock) => {
      sock.once('data', (d) => sock.end(`${name} saw ${sock.remoteAddress}:${sock.remotePort} ${d.toString().trim()}\n`));
      sock.on('error', () => undefined);
    })
    .listen(port, '0.0.0.0', ready);
}
for (const port of ports(values.hold!)) {
  pending++;
  net
    .createServer((sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          sock.write(`${name} saw ${sock.remoteAddress}:${sock.remotePort} ${buf.slice(0, nl)}\n`);
          buf = buf.slice(nl + 1);
        }
      });
      sock.on('error', () => undefined);
    })
    .listen(port, '0.0.0.0', ready);
}
for (const port of ports(values.http!)) {
  pending++;
  http
    .createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${name} saw ${req.socket.remoteAddress}:${req.socket.remotePort} ${req.method} ${req.url}\n`);
    })
    .listen(port, '0.0.0.0', ready);
}
for (const port of ports(values.udp!)) {
  pending++;
  const s = dgram.createSocket('udp4');
  s.on('message', (d, r) => s.send(`${name} saw ${r.address}:${r.port} ${d.toString().trim()}\n`, r.port, r.address));
  s.bind(port, '0.0.0.0', ready);
}
process.on('SIGTERM', () => process.exit(0));
