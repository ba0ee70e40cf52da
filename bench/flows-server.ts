/**
 * Echo server of the data-plane benchmark, run inside a host namespace:
 *
 *   ip netns exec NS node dist/bench/flows-server.js --name hosta --tcp 5000,5001,...
 *
 * Answers the first line of each TCP connection with `<name> saw <peer address>:<peer port> <line>` and leaves
 * the closing to the client: the client's FIN comes first, this side's follows (allowHalfOpen false), so the
 * TIME_WAIT state stays with the client. (test/support/flow-server.ts closes first, which leaves TIME_WAIT on
 * the host: see flows-bench.ts on why that matters to a DNAT gateway with several public addresses.)
 * Prints "listening" once every port is bound.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { tcp: { type: 'string', default: '' }, name: { type: 'string', default: 'server' } } });
const ports = values.tcp!.split(',').filter(Boolean).map(Number);
let pending = ports.length;

for (const port of ports) {
  net
    .createServer({ noDelay: true }, (sock) => {
      sock.once('data', (d) => {
        const line = d.toString().split('\n')[0];
        sock.write(`${values.name} saw ${sock.remoteAddress}:${sock.remotePort} ${line}\n`);
      });
      sock.on('error', () => undefined);
    })
    .listen({ port, host: '0.0.0.0', backlog: 4096 }, () => {
      if (--pending === 0) process.stdout.write('listening\n');
    });
}
process.on('SIGTERM', () => process.exit(0));
