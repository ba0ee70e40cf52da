// Helpers for the STUN tests: a logger that keeps its lines, a server on loopback, a raw UDP client.
import dgram from 'node:dgram';
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import { transportAddress, type TransportAddress } from '../../src/stun/address.js';
import { decode, type StunMessage } from '../../src/stun/codec.js';
import { StunServer, type StunServerOptions } from '../../src/stun/server.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function memoryLogger(level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** A server on 127.0.0.1 and 127.0.0.2 (both on lo), free ports; stopped after the test. */
export async function loopbackServer(t: TestContext, opts: Partial<StunServerOptions> = {}) {
  const { logger, lines } = memoryLogger();
  const server = new StunServer({ address: '127.0.0.1', port: 0, alternateAddress: '127.0.0.2', alternatePort: 0, logger, ...opts });
  await server.start();
  t.after(() => server.stop());
  return { server, lines, endpoints: server.endpoints() };
}

export interface Received {
  msg: StunMessage;
  from: TransportAddress;
}

/** A UDP client socket on 127.0.0.1 that collects every datagram it receives. */
export async function rawClient(t: TestContext) {
  const socket = dgram.createSocket('udp4');
  const inbox: { bytes: Buffer; from: TransportAddress }[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (bytes, r) => {
    inbox.push({ bytes, from: transportAddress(r.address, r.port) });
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => socket.close());
  const port = socket.address().port;
  return {
    port,
    inbox,
    send(bytes: Buffer, to: TransportAddress): void {
      socket.send(bytes, to.port, to.address);
    },
    /** The next datagram (decoded), or undefined after waitMs. */
    async next(waitMs = 1000): Promise<Received | undefined> {
      if (inbox.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      const got = inbox.shift();
      if (!got) return undefined;
      const d = decode(got.bytes);
      if (!d.ok) throw new Error(`undecodable answer: ${d.error.reason}`);
      return { msg: d.message, from: got.from };
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
