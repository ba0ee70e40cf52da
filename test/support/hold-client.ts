/**
 * A long-lived TCP connection for crash tests, run inside a namespace:
 *   ip netns exec NS node hold-client.js ADDRESS PORT
 * Connects, prints "connected", then sends every stdin line and prints the reply line; prints "closed" or
 * "error ..." when the connection ends, so a test sees at once if a flow died.
 */
import net from 'node:net';
import readline from 'node:readline';

const [address, port] = process.argv.slice(2);
const sock = net.connect({ host: address, port: Number(port) });
sock.setNoDelay(true);
sock.on('connect', () => process.stdout.write('connected\n'));
let buf = '';
sock.on('data', (d) => {
  buf += d.toString();
  for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
    process.stdout.write(`reply ${buf.slice(0, nl)}\n`);
    buf = buf.slice(nl + 1);
  }
});
sock.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
sock.on('close', () => {
  process.stdout.write('closed\n');
  process.exit(0);
});
readline.createInterface({ input: process.stdin }).on('line', (line) => sock.write(line + '\n'));
