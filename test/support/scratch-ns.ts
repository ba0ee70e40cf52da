// Scratch network namespaces for a test that builds its own small topology (the full testbed is Testbed in
// netns.ts):
//
//   const scratch = new ScratchNamespaces();              // names rgwt<6 hex>-<name>
//   after(() => scratch.down());
//   const gw = await scratch.add('gw');                   // 'rgwt1a2b3c-gw', loopback up
//   const srv = scratch.spawn('gw', 'sleep', ['1000']);   // stopped by down()
//
// Namespaces and processes still there when the process exits (normally, by an uncaught error, or by
// SIGINT/SIGTERM/SIGHUP) are removed synchronously, through netns.ts's exit hooks. Only namespaces this
// object created are ever deleted; test/run.sh removes rgwt* leftovers of a process killed with SIGKILL.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  type ExecOptions,
  type ExecResult,
  ExecError,
  NsProcess,
  type SpawnOptions,
  forgetAtExit,
  run,
  teardownAtExit,
} from './netns.js';

/**
 * Why a kernel test cannot run here (not root, or a tool missing), for node:test's `skip`; false when it can.
 * test/run.sh refuses to run without root and installs every tool, so under `npm test` this is always false.
 */
export function kernelTestSkip(tools: readonly string[], what: string): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  return tools.every((t) => existsSync(t)) ? false : `needs ${what} (orchestration/install-deps.sh)`;
}

const NAME = /^[A-Za-z0-9_.-]{1,20}$/;
/** where `ip netns add` mounts a named namespace (iproute2's NETNS_RUN_DIR) */
const netnsPath = (ns: string): string => `/run/netns/${ns}`;

export class ScratchNamespaces {
  /** rgwt<6 random hex>- */
  readonly prefix = `rgwt${randomBytes(3).toString('hex')}-`;
  private readonly created = new Set<string>();
  private readonly procs = new Set<NsProcess>();

  /** Full name of namespace `name`, e.g. ns('gw') === 'rgwt1a2b3c-gw' (whether or not it exists yet). */
  ns(name: string): string {
    if (!NAME.test(name)) throw new Error(`invalid scratch namespace name '${name}' (${NAME.source})`);
    return `${this.prefix}${name}`;
  }

  /** Creates namespace `name` with its loopback up; returns the full name. */
  async add(name: string): Promise<string> {
    const ns = this.ns(name);
    // never adopt someone else's namespace: it would be deleted with ours
    if (this.created.has(ns) || existsSync(netnsPath(ns))) throw new Error(`namespace ${ns} exists already`);
    this.created.add(ns); // before creating: an interrupted add is removed too
    teardownAtExit(this);
    await run('ip', ['netns', 'add', ns], { check: true });
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { check: true });
    return ns;
  }

  /** Runs `cmd args` inside namespace `name` (ip netns exec) and collects its output. */
  exec(name: string, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns(name), cmd, ...args], opts);
  }

  /** Starts a long-running process inside namespace `name`; down() stops it if the test did not. */
  spawn(name: string, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): NsProcess {
    const p = new NsProcess(this.ns(name), cmd, args, opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Deletes namespace `name` if this object created it and it is still there. */
  remove(name: string): Promise<void> {
    return this.delete(this.ns(name));
  }

  /** Stops the spawned processes (SIGTERM, SIGKILL after 2 s) and deletes every namespace created. Idempotent. */
  async down(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop('SIGTERM', 2_000)));
    for (const ns of [...this.created]) await this.delete(ns);
    forgetAtExit(this);
  }

  /** Exit-time teardown: SIGKILL the processes, delete the namespaces, wait for nothing else. */
  downSync(): void {
    for (const p of this.procs) p.killNow();
    for (const ns of this.created) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore', timeout: 10_000 });
    this.created.clear();
  }

  private async delete(ns: string): Promise<void> {
    if (!this.created.has(ns)) return;
    const r = await run('ip', ['netns', 'delete', ns]);
    // kept on failure, so that the exit hook tries again
    if (r.code !== 0 && existsSync(netnsPath(ns))) throw new ExecError(`ip netns delete ${ns}`, r);
    this.created.delete(ns);
  }
}
