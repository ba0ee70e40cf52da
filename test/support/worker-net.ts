// Three namespaces for worker-mapping tests, built and removed by the test that uses them:
//
//   <p>cli  c0 100.70.0.2/24 ---- pub0 100.70.0.1/24  <p>gw  prv0 10.77.0.1/24 ---- w0 10.77.0.2/24  <p>wk
//           default via 100.70.0.1                    (forwarding)                    default via 10.77.0.254
//
// The worker's default route points at 10.77.0.254, a neighbour that is not the gateway (and does not exist):
// a reply addressed to the client leaves that way and is lost, so a flow only works when the gateway rewrites
// the source to its own private address (FULL-NAT). Names are rgwt<6 hex>-cli/-gw/-wk; namespaces still up when
// the process exits (normally, by an uncaught error, or by SIGINT/SIGTERM/SIGHUP) are deleted synchronously.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type ExecOptions, type ExecResult, NsProcess, type SpawnOptions, run } from './netns.js';

export type WorkerNetNode = 'cli' | 'gw' | 'wk';
const NODES: readonly WorkerNetNode[] = ['cli', 'gw', 'wk'];

export const WORKER_NET = {
  client: '100.70.0.2',
  /** the gateway's public address (clients connect here) */
  public: '100.70.0.1',
  /** the gateway's address on the private network */
  private: '10.77.0.1',
  worker: '10.77.0.2',
  network: '10.77.0.0/24',
  /** the worker's default router: not the gateway */
  elsewhere: '10.77.0.254',
} as const;

const live = new Set<WorkerNet>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooked = false;

function downAllSync(): void {
  for (const net of [...live]) net.downSync();
}

function onSignal(signal: NodeJS.Signals): void {
  downAllSync();
  if (process.listenerCount(signal) <= 1) {
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', downAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

export class WorkerNet {
  private readonly procs = new Set<NsProcess>();

  private constructor(readonly prefix: string) {}

  /** Builds the three namespaces; on any failure removes what was built and throws. */
  static async up(): Promise<WorkerNet> {
    const net = new WorkerNet(`rgwt${randomBytes(3).toString('hex')}-`);
    live.add(net); // before building: an interrupted build is removed too
    hook();
    try {
      await net.build();
    } catch (err) {
      await net.down();
      throw err;
    }
    return net;
  }

  ns(node: WorkerNetNode): string {
    return `${this.prefix}${node}`;
  }

  exec(node: WorkerNetNode, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns(node), cmd, ...args], opts);
  }

  /** A long-running process in a namespace; down() stops it if the test did not. */
  spawn(node: WorkerNetNode, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): NsProcess {
    const p = new NsProcess(this.ns(node), cmd, args, opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Stops spawned processes and deletes the namespaces (only ours, by name). Idempotent. */
  async down(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop('SIGTERM', 2_000)));
    for (const node of NODES) await run('ip', ['netns', 'del', this.ns(node)]);
    live.delete(this);
  }

  downSync(): void {
    for (const p of this.procs) p.killNow();
    for (const node of NODES) spawnSync('ip', ['netns', 'del', this.ns(node)], { stdio: 'ignore' });
    live.delete(this);
  }

  private async build(): Promise<void> {
    const [cli, gw, wk] = NODES.map((n) => this.ns(n));
    const ip = (...args: string[]) => run('ip', args, { check: true });
    for (const ns of [cli, gw, wk]) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('link', 'add', 'c0', 'netns', cli, 'type', 'veth', 'peer', 'name', 'pub0', 'netns', gw);
    await ip('link', 'add', 'w0', 'netns', wk, 'type', 'veth', 'peer', 'name', 'prv0', 'netns', gw);
    const addr = async (ns: string, dev: string, cidr: string) => {
      await ip('-n', ns, 'addr', 'add', cidr, 'dev', dev);
      await ip('-n', ns, 'link', 'set', dev, 'up');
    };
    await addr(cli, 'c0', `${WORKER_NET.client}/24`);
    await addr(gw, 'pub0', `${WORKER_NET.public}/24`);
    await addr(gw, 'prv0', `${WORKER_NET.private}/24`);
    await addr(wk, 'w0', `${WORKER_NET.worker}/24`);
    await ip('-n', cli, 'route', 'add', 'default', 'via', WORKER_NET.public);
    await ip('-n', wk, 'route', 'add', 'default', 'via', WORKER_NET.elsewhere);
    await run('ip', ['netns', 'exec', gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], { check: true });
  }
}
