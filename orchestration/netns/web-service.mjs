// A demo web server for a realm host: HTTP on each --http port, HTTPS (any self-signed certificate) on --https;
// every answer names the host, the client address it saw (the relay's and FULL-NAT's: the gateway's inner
// address; plain DNAT's: the client's) and the Host it was asked for.
//   node orchestration/netns/web-service.mjs --name hosta --http 80,8080 --https 443 --key K --cert C
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { name: { type: 'string', default: 'host' }, http: { type: 'string', default: '80' }, https: { type: 'string' }, key: { type: 'string' }, cert: { type: 'string' } },
});
const answer = (scheme) => (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.setHeader('connection', 'close');
  res.end(`${values.name} ${scheme} saw ${req.socket.remoteAddress}:${req.socket.remotePort} ${req.method} ${req.url} host ${req.headers.host ?? '-'}\n`);
};
const ports = values.http.split(',').filter(Boolean).map(Number);
for (const port of ports) http.createServer(answer('http')).listen(port, '0.0.0.0');
if (values.https) {
  https.createServer({ key: readFileSync(values.key), cert: readFileSync(values.cert) }, answer('https')).listen(Number(values.https), '0.0.0.0');
}
console.log(`${values.name}: web on http ${ports.join(',')}${values.https ? `, https ${values.https}` : ''}`);
