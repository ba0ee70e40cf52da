// systemd's side of sd_notify for tests: a Unix datagram socket (python3, since Node has none) whose
// datagrams arrive as strings, in order.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

export const HAS_PYTHON = spawnSync('python3', ['-c', 'pass']).status === 0;

const SCRIPT = [
  'import socket, sys, json',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  'a = sys.argv[1]',
  "s.bind('\\0' + a[1:] if a.startswith('@') else a)",
  "print('bound', flush=True)",
  'while True:',
  '    print(json.dumps(s.recv(4096).decode()), flush=True)',
].join('\n');

export interface NotifyReceiver {
  /** Every datagram so far. */
  readonly messages: string[];
  /** The next datagram after the ones already returned. */
  next(): Promise<string>;
  close(): void;
}

/** Binds `address` (a path or `@abstract`) and resolves once it is bound. */
export async function notifyReceiver(address: string): Promise<NotifyReceiver> {
  const child = spawn('python3', ['-c', SCRIPT, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'bound') throw new Error(`notify receiver did not bind ${address}`);
  const messages: string[] = [];
  return {
    messages,
    next: async () => {
      const line = await lines.next();
      if (line.done) throw new Error('notify receiver ended');
      const m = JSON.parse(line.value as string) as string;
      messages.push(m);
      return m;
    },
    close: () => child.kill(),
  };
}
