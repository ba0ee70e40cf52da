// A tiny UDP "what is my address" probe for the testbed's NAT tests, run inside a namespace
// (node dist/test/testbed/udp-probe.js ...). Driven line by line over stdin; answers line by line on stdout.
//
//   serve ADDR:PORT...  bind each address; answer every datagram with "seen <source ip>:<port>" from the
//                       socket it reached. stdin "send LOCAL DST TEXT" sends TEXT from the socket bound
//                       to LOCAL (to play a host the client never contacted). Prints "ready" once bound.
//   client PORT         bind 0.0.0.0:PORT. stdin "ask DST" sends "whoami" to DST every 100 ms until the
//                       answer comes (prints "mapped DST <ip>:<port>", how DST saw us) or 1.5 s pass
//                       ("noreply DST"). Every other datagram prints "recv <source ip>:<port> TEXT".
//                       Prints "ready <port>" once bound.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';

const ASK_INTERVAL_MS = 100;
const ASK_TIMEOUT_MS = 1_500;

interface Endpoint {
  address: string;
  port: number;
}

function parseEndpoint(text: string | undefined): Endpoint {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text ?? '');
  if (!m || Number(m[2]) > 65535) throw new Error(`not an IPv4 address:port: '${text ?? ''}'`);
  return { address: m[1]!, port: Number(m[2]) };
}

const key = (e: Endpoint | RemoteInfo): string => `${e.address}:${e.port}`;

function bind(socket: Socket, port: number, address?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function commands(handle: (words: string[]) => void): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const words = line.trim().split(/\s+/);
    if (words[0]) handle(words);
  });
  // The test closing our stdin (or dying) ends the probe.
  rl.on('close', () => process.exit(0));
}

async function serve(addresses: string[]): Promise<void> {
  const sockets = new Map<string, Socket>();
  for (const text of addresses) {
    const local = parseEndpoint(text);
    const socket = createSocket('udp4');
    socket.on('message', (_msg, from) => socket.send(`seen ${key(from)}`, from.port, from.address));
    await bind(socket, local.port, local.address);
    sockets.set(key(local), socket);
  }
  commands(([verb, local, dst, ...text]) => {
    const socket = sockets.get(local ?? '');
    if (verb !== 'send' || !socket) return console.log(`error bad command: ${verb} ${local}`);
    const to = parseEndpoint(dst);
    socket.send(text.join(' '), to.port, to.address, () => console.log(`sent ${local} ${dst}`));
  });
  console.log('ready');
}

async function client(port: number): Promise<void> {
  const socket = createSocket('udp4');
  const pending = new Map<string, (seen: string) => void>();
  socket.on('message', (msg, from) => {
    const text = msg.toString('utf8');
    const answer = pending.get(key(from));
    if (answer && text.startsWith('seen ')) answer(text.slice(5));
    else console.log(`recv ${key(from)} ${text}`);
  });
  await bind(socket, port);
  commands(([verb, dst]) => {
    if (verb !== 'ask') return console.log(`error bad command: ${verb}`);
    const to = parseEndpoint(dst);
    const send = (): void => socket.send('whoami', to.port, to.address);
    const timer = setInterval(send, ASK_INTERVAL_MS);
    const finish = (line: string): void => {
      clearInterval(timer);
      clearTimeout(deadline);
      pending.delete(key(to));
      console.log(line);
    };
    const deadline = setTimeout(() => finish(`noreply ${dst}`), ASK_TIMEOUT_MS);
    pending.set(key(to), (seen) => finish(`mapped ${dst} ${seen}`));
    send();
  });
  console.log(`ready ${socket.address().port}`);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve' && args.length > 0) await serve(args);
else if (mode === 'client' && args.length === 1) await client(Number(args[0]));
else {
  console.error('usage: udp-probe.js serve ADDR:PORT... | client PORT');
  process.exit(2);
}
