// A demo service for the workers behind NAT: TCP and UDP echo on one port, each reply naming the worker and
// the source address it saw (through the gateway's FULL-NAT that is the gateway's private address).
//   node orchestration/netns/echo-service.mjs NAME PORT
import dgram from 'node:dgram';
import net from 'node:net';

const [name = 'worker', portText = '10053'] = process.argv.slice(2);
const port = Number(portText);
const reply = (from, data) => `${name} saw ${from}: ${String(data).trim()}\n`;

net
  .createServer((socket) => {
    socket.on('error', () => undefined);
    // one request, one answer, then close: enough for `nc` and for the tests' clients
    socket.once('data', (data) => socket.end(reply(`${socket.remoteAddress}:${socket.remotePort}`, data)));
  })
  .listen(port, '0.0.0.0');
const udp = dgram.createSocket('udp4');
udp.on('message', (data, rinfo) => udp.send(reply(`${rinfo.address}:${rinfo.port}`, data), rinfo.port, rinfo.address));
udp.bind(port, '0.0.0.0', () => console.log(`${name}: echo on tcp and udp port ${port}`));
