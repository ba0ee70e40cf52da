/**
 * Web server for the proxy tests, run inside a host namespace: HTTP on 80 and HTTPS on 443 (the given key and
 * certificate), each request answered 200 with `<name> http|https saw <peer>:<port> <method> <path> <host>`.
 *   ip netns exec NS node web-server.js --name hosta --key key.pem --cert cert.pem
 * Prints "listening".
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { name: { type: 'string', default: 'host' }, key: { type: 'string' }, cert: { type: 'string' } } });
const answer = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`${values.name} ${scheme} saw ${req.socket.remoteAddress}:${req.socket.remotePort} ${req.method} ${req.url} ${req.headers.host}\n`);
};
let pending = 2;
const ready = () => --pending === 0 && process.stdout.write('listening\n');
http.createServer(answer('http')).listen(80, '0.0.0.0', ready);
https.createServer({ key: readFileSync(values.key!), cert: readFileSync(values.cert!) }, answer('https')).listen(443, '0.0.0.0', ready);
process.on('SIGTERM', () => process.exit(0));
