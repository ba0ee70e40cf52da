/**
 * One kernel-touching realmgw per network namespace, whatever its runtime directory. The lock file
 * (instance-lock.ts) keys on the runtime directory, so two gateways given different admin sockets would still
 * both install into one namespace's nf_tables, and the one that fails would roll back the other's table. The
 * claim is an abstract Unix socket, `@realmgw-kernel`: abstract names live in the network namespace (exactly
 * the scope of the kernel state), the name is freed when its holder dies, and it needs no writable directory.
 * A refused claimant connects to it and the holder answers with its pid.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { RealmgwError } from '../errors/realmgw-error.js';
import { describeHolder } from './instance-lock.js';

export const CLAIM_NAME = 'realmgw-kernel';

const cmdlineOf = (pid: string): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return undefined;
  }
};

/** The holder's answer: its pid, one line (empty when it cannot be reached). */
function askHolder(path: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const c = createConnection(path);
    c.setEncoding('utf8');
    c.on('data', (d: string) => (text += d));
    c.on('end', () => resolve(text));
    c.on('error', () => resolve(text));
  });
}

export class NetnsClaim {
  private constructor(private readonly server: Server) {}

  /** Claims this network namespace for the calling process, or throws RGW_ALREADY_RUNNING naming the holder. */
  static async take(name = CLAIM_NAME): Promise<NetnsClaim> {
    const path = `\0${name}`;
    const server = createServer((c) => c.end(`${process.pid}\n`));
    const listening = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(path, () => resolve(undefined));
    });
    if (listening?.code === 'EADDRINUSE') {
      const text = await askHolder(path);
      const pid = /^\s*(\d+)\s*$/.exec(text)?.[1];
      const holder = describeHolder(text, pid === undefined ? undefined : cmdlineOf(pid));
      throw new RealmgwError('RGW_ALREADY_RUNNING', { lock: `@${name} (this network namespace)`, ...holder });
    }
    if (listening) throw new RealmgwError('RGW_INSTANCE_LOCK', { lock: `@${name}`, reason: listening.message }, { cause: listening });
    server.unref(); // the claim must not keep a stopping gateway alive
    return new NetnsClaim(server);
  }

  release(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
