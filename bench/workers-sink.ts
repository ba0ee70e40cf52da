/**
 * TCP sink of the workers benchmark (bench/workers-bench.ts), run inside a worker namespace:
 *
 *   ip netns exec <p>worker1 node dist/bench/workers-sink.js 11001,11002,15001
 *
 * Counts what each connection sends until the client half-closes, then answers with one JSON line
 * (SinkReport) and closes. The byte count and the first-to-last-byte time are taken here, at the receiving
 * end, so a throughput figure is what crossed the gateway, not what the sender's socket buffer accepted.
 * The peer address proves the path: the gateway's private address through a lease (FULL-NAT), the client's
 * own address over plain routing. Prints "listening" once every port is bound.
 */
import net from 'node:net';

export interface SinkReport {
  bytes: number;
  /** first byte to last byte, as this process saw them */
  ms: number;
  peer: string;
  localPort: number;
}

const ports = (process.argv[2] ?? '').split(',').filter(Boolean).map(Number);
if (!ports.length || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  process.stderr.write('usage: workers-sink.js PORT[,PORT...]\n');
  process.exit(2);
}

let pending = ports.length;
for (const port of ports) {
  // allowHalfOpen: the client's FIN ends the count, and the report still goes back on the same connection.
  net
    .createServer({ allowHalfOpen: true }, (sock) => {
      let bytes = 0;
      let first = 0n;
      let last = 0n;
      sock.on('data', (chunk: Buffer) => {
        last = process.hrtime.bigint();
        if (bytes === 0) first = last;
        bytes += chunk.length;
      });
      sock.on('end', () => {
        const report: SinkReport = { bytes, ms: Number(last - first) / 1e6, peer: sock.remoteAddress ?? '?', localPort: sock.localPort ?? 0 };
        sock.end(`${JSON.stringify(report)}\n`);
      });
      sock.on('error', () => undefined);
    })
    .listen({ port, host: '0.0.0.0', backlog: 1024 }, () => {
      if (--pending === 0) process.stdout.write('listening\n');
    });
}
process.on('SIGTERM', () => process.exit(0));
