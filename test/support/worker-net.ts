// Three namespaces for worker-mapping tests, built and removed by the test that uses them:
//
//   <p>cli  c0 100.70.0.2/24 ---- pub0 100.70.0.1/24  <p>gw  prv0 10.77.0.1/24 ---- w0 10.77.0.2/24  <p>wk
//           default via 100.70.0.1                    (forwarding)                    default via 10.77.0.254
//
// The worker's default route points at 10.77.0.254, a neighbour that is not the gateway (and does not exist):
// a reply addressed to the client leaves that way and is lost, so a flow only works when the gateway rewrites
// the source to its own private address (FULL-NAT). Names are rgwt<6 hex>-cli/-gw/-wk (ScratchNamespaces:
// removed by down() or, at the latest, when the process exits).
import { type ExecOptions, type ExecResult, type NsProcess, type SpawnOptions, run } from './netns.js';
import { ScratchNamespaces } from './scratch-ns.js';

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

export class WorkerNet {
  private readonly scratch = new ScratchNamespaces();

  private constructor() {}

  /** Builds the three namespaces; on any failure removes what was built and throws. */
  static async up(): Promise<WorkerNet> {
    const net = new WorkerNet();
    try {
      await net.build();
    } catch (err) {
      await net.down();
      throw err;
    }
    return net;
  }

  get prefix(): string {
    return this.scratch.prefix;
  }

  ns(node: WorkerNetNode): string {
    return this.scratch.ns(node);
  }

  exec(node: WorkerNetNode, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.scratch.exec(node, cmd, args, opts);
  }

  /** A long-running process in a namespace; down() stops it if the test did not. */
  spawn(node: WorkerNetNode, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): NsProcess {
    return this.scratch.spawn(node, cmd, args, opts);
  }

  /** Stops spawned processes and deletes the namespaces (only ours, by name). Idempotent. */
  down(): Promise<void> {
    return this.scratch.down();
  }

  private async build(): Promise<void> {
    const [cli, gw, wk] = NODES.map((n) => this.ns(n));
    for (const node of NODES) await this.scratch.add(node);
    const ip = (...args: string[]) => run('ip', args, { check: true });
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
    await this.exec('gw', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'], { check: true });
  }
}
