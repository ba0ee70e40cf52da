// Network-namespace testbed for end-to-end tests (wraps orchestration/netns/testbed.sh).
//
//   const tb = await Testbed.up();                       // namespaces rgwt<6 hex>-public, -router, -gwa, ...
//   after(() => tb.down());
//   const r = await tb.exec('public', 'ping', ['-c1', '-W1', ADDR.gwaWan]);
//   const gw = tb.spawn('gwa', process.execPath, [CLI_PATH, 'run', cfg]);
//   await gw.ready(/listening/, 10_000);
//   ...
//   await gw.stop();                                      // SIGTERM, SIGKILL after a grace period
//
// Every Testbed still up when the process exits (normally, by an uncaught error, or by SIGINT/SIGTERM/
// SIGHUP) is torn down synchronously, with the processes it spawned. Only node builtins are used.
import { spawn as cpSpawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { TESTBED_SCRIPT } from './repo.js';

export type NodeName = 'public' | 'router' | 'gwa' | 'hosta' | 'hostb' | 'hostc' | 'nat' | 'worker1' | 'worker2';
export const NODES: readonly NodeName[] = ['public', 'router', 'gwa', 'hosta', 'hostb', 'hostc', 'nat', 'worker1', 'worker2'];

/** Addresses of the testbed (see orchestration/netns/testbed.sh). */
export const ADDR = {
  /** the Internet-side client */
  public: '100.64.0.100',
  routerPublic: '100.64.0.1',
  routerWan: '100.64.1.1',
  /** the router's side of the link to the NAT router */
  routerNat: '100.64.2.1',
  /** the gateway's WAN / service address */
  gwaWan: '100.64.1.130',
  /** the gateway's second public address on wan0 (STUN OTHER-ADDRESS); secondary, never a source by default */
  gwaStun: '100.64.1.134',
  /** the gateway's LAN address (on bridge lan0) */
  gwaLan: '192.168.0.1',
  /** the gateway's address on the private network to the workers (bridge wrk0) */
  gwaPrivate: '10.200.0.1',
  hosta: '192.168.0.100',
  hostb: '192.168.0.101',
  /** a LAN host whose default route does not point at the gateway (192.168.0.254, where nothing answers) */
  hostc: '192.168.0.102',
  /** the NAT router's public address: what the workers' traffic to the Internet comes from */
  natPublic: '100.64.2.2',
  /** the NAT router's inside address, the workers' default gateway */
  natInside: '172.16.0.1',
  /** the workers behind the NAT */
  worker1: '172.16.0.11',
  worker2: '172.16.0.12',
  /** the workers on the private network to the gateway */
  worker1Private: '10.200.0.11',
  worker2Private: '10.200.0.12',
} as const;
/** Circular-pool addresses, routed by the router to gwa (not assigned on any interface). */
export const POOL: readonly string[] = ['100.64.1.131', '100.64.1.132', '100.64.1.133'];
export const LAN_CIDR = '192.168.0.0/24';
/** The private network between the gateway (wrk0) and the workers (priv0). */
export const PRIVATE_CIDR = '10.200.0.0/24';
/** The workers' network behind the NAT router. */
export const NAT_INSIDE_CIDR = '172.16.0.0/24';
/** The link between the router and the NAT router. */
export const NAT_LINK_CIDR = '100.64.2.0/24';
/** Interface names inside each namespace. */
export const IFACE = {
  public: { eth: 'eth0' },
  router: { public: 'pub0', gwa: 'gw0', nat: 'nat0' },
  gwa: { wan: 'wan0', lan: 'lan0', hostaPort: 'vha', hostbPort: 'vhb', hostcPort: 'vhc', private: 'wrk0', worker1Port: 'pw1', worker2Port: 'pw2' },
  hosta: { eth: 'eth0' },
  hostb: { eth: 'eth0' },
  hostc: { eth: 'eth0' },
  nat: { up: 'up0', inside: 'lan0', worker1Port: 'nw1', worker2Port: 'nw2' },
  worker1: { nat: 'nat0', private: 'priv0' },
  worker2: { nat: 'nat0', private: 'priv0' },
} as const;

/**
 * How the NAT router treats the workers' traffic (`testbed.sh nat MODE`, default port-restricted):
 * - port-restricted: endpoint-independent mapping (source port kept when free), address-and-port-dependent filtering
 * - symmetric: a new random port for every new flow, so per destination
 * - full-cone: endpoint-independent mapping and, for UDP, endpoint-independent filtering
 * - blocked: UDP is not forwarded (TCP and ICMP are, as port-restricted)
 */
export type NatMode = 'port-restricted' | 'symmetric' | 'full-cone' | 'blocked';
export const NAT_MODES: readonly NatMode[] = ['port-restricted', 'symmetric', 'full-cone', 'blocked'];
export const DEFAULT_NAT_MODE: NatMode = 'port-restricted';

export interface ExecOptions {
  /** written to stdin, which is then closed (default: stdin closed at once) */
  input?: string | Uint8Array;
  /** kill the process group with SIGKILL after this long (default 30000); the result has timedOut: true */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** throw an ExecError when the command exits non-zero, is killed, or times out */
  check?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** exit status; 128 + signal number when killed by a signal */
  code: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    super(
      `${command} ${result.timedOut ? 'timed out' : `exited with ${result.signal ?? result.code}`}` +
        (result.stderr ? `\n--- stderr ---\n${result.stderr.trimEnd()}` : '') +
        (result.stdout ? `\n--- stdout ---\n${result.stdout.trimEnd()}` : ''),
    );
    this.name = 'ExecError';
  }
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** 'pipe' to write to the process (proc.child.stdin); default 'ignore' */
  stdin?: 'ignore' | 'pipe';
  /** mirror output lines to this process's stderr (default: env RGW_TEST_ECHO=1) */
  echo?: boolean;
}

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LineMatcher = RegExp | string | ((line: string, stream: 'stdout' | 'stderr') => boolean);

const MAX_KEPT_LINES = 50_000;

function matches(m: LineMatcher, line: OutputLine): boolean {
  if (typeof m === 'string') return line.text.includes(m);
  if (m instanceof RegExp) {
    m.lastIndex = 0;
    return m.test(line.text);
  }
  return m(line.text, line.stream);
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

/** A process running inside a namespace (spawned by Testbed.spawn), with its output kept as lines. */
export class NsProcess {
  readonly child: ChildProcess;
  /** resolves when the process has exited (never rejects) */
  readonly exited: Promise<ExitInfo>;
  private readonly closed: Promise<void>;
  private kept: OutputLine[] = [];
  private dropped = 0;
  private listeners = new Set<(line: OutputLine, index: number) => void>();
  private exitInfo: ExitInfo | undefined;

  constructor(
    readonly ns: string,
    readonly cmd: string,
    readonly args: readonly string[],
    opts: SpawnOptions = {},
  ) {
    const echo = opts.echo ?? process.env.RGW_TEST_ECHO === '1';
    this.child = cpSpawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
      detached: true, // own process group: stop() reaches the command's children too
    });
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        resolve(info);
      };
      this.child.once('exit', (code, signal) => done({ code, signal }));
      this.child.once('error', (err) => {
        this.push({ stream: 'stderr', text: `spawn error: ${err.message}` }, false);
        done({ code: null, signal: null });
      });
    });
    this.closed = new Promise<void>((resolve) => {
      this.child.once('close', () => resolve());
      this.child.once('error', () => resolve());
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const decoder = new StringDecoder('utf8');
      let partial = '';
      const src = this.child[stream]!;
      src.on('data', (chunk: Buffer) => {
        const parts = (partial + decoder.write(chunk)).split('\n');
        partial = parts.pop() ?? '';
        for (const text of parts) this.push({ stream, text: text.replace(/\r$/, '') }, echo);
      });
      src.on('end', () => {
        const rest = partial + decoder.end();
        partial = '';
        if (rest) this.push({ stream, text: rest }, echo);
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** true until the process has exited */
  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** how the process ended, once it has */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Index of the next line to arrive; pass it as ready(..., { fromLine }) to ignore earlier output. */
  get lineCount(): number {
    return this.dropped + this.kept.length;
  }

  /** Output lines kept so far (the last 50000), both streams in arrival order. */
  get lines(): readonly OutputLine[] {
    return this.kept;
  }

  get stdout(): string {
    return this.kept.filter((l) => l.stream === 'stdout').map((l) => `${l.text}\n`).join('');
  }

  get stderr(): string {
    return this.kept.filter((l) => l.stream === 'stderr').map((l) => `${l.text}\n`).join('');
  }

  /** Last n lines of output, prefixed with their stream, for error messages. */
  tail(n = 30): string {
    return this.kept
      .slice(-n)
      .map((l) => `${l.stream === 'stderr' ? 'E' : 'O'}| ${l.text}`)
      .join('\n');
  }

  /** Call cb for every line from now on; returns an unsubscribe function. */
  onLine(cb: (line: OutputLine, index: number) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /**
   * Wait for an output line (stdout or stderr) matching `match` (RegExp, substring, or predicate), looking
   * first at lines already received (from opts.fromLine, default 0). Resolves with the line; rejects when
   * the process exits first or after timeoutMs, with the end of its output in the message.
   */
  ready(match: LineMatcher, timeoutMs = 10_000, opts: { fromLine?: number } = {}): Promise<string> {
    const from = Math.max(0, (opts.fromLine ?? 0) - this.dropped);
    for (let i = from; i < this.kept.length; i++) {
      if (matches(match, this.kept[i]!)) return Promise.resolve(this.kept[i]!.text);
    }
    const what = `${this.cmd} ${this.args.join(' ')} in ${this.ns}`;
    if (!this.running) {
      return Promise.reject(
        new Error(`${what} exited (${this.describeExit()}) before printing ${String(match)}\n${this.tail()}`),
      );
    }
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, line = ''): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        off();
        if (err) reject(err);
        else resolve(line);
      };
      const off = this.onLine((line) => {
        if (matches(match, line)) finish(null, line.text);
      });
      const timer = setTimeout(() => {
        finish(new Error(`${what}: no line matching ${String(match)} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      // 'exit' may come before the last output: wait for the pipes to close (at most 250 ms, since a
      // child of the process may keep them open)
      void this.exited
        .then(() => Promise.race([this.closed, new Promise((r) => setTimeout(r, 250))]))
        .then(() => {
          finish(new Error(`${what} exited (${this.describeExit()}) before printing ${String(match)}\n${this.tail()}`));
        });
    });
  }

  /**
   * Send `signal` to the process group (default SIGTERM); SIGKILL it after graceMs (default 5000).
   * Resolves with how the process exited (immediately if it already had). Leftover members of the group
   * are killed too.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<ExitInfo> {
    if (this.running) {
      killGroup(this.child.pid, signal);
      const timer = setTimeout(() => killGroup(this.child.pid, 'SIGKILL'), graceMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    killGroup(this.child.pid, 'SIGKILL');
    return this.exitInfo!;
  }

  /** SIGKILL the process group now, without waiting (used by the exit-time cleanup). */
  killNow(): void {
    if (this.running) killGroup(this.child.pid, 'SIGKILL');
  }

  private describeExit(): string {
    const e = this.exitInfo;
    if (!e) return 'running';
    return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
  }

  private push(line: OutputLine, echo: boolean): void {
    this.kept.push(line);
    if (this.kept.length > MAX_KEPT_LINES) {
      this.kept.shift();
      this.dropped++;
    }
    if (echo) process.stderr.write(`[${this.ns} ${this.child.pid ?? '?'} ${line.stream}] ${line.text}\n`);
    const index = this.lineCount - 1;
    for (const cb of [...this.listeners]) cb(line, index);
  }
}

/* ---------- exit-time cleanup ---------- */

/** Something a test set up in the kernel that must still go when the process ends before its async teardown. */
export interface ExitTeardown {
  /** Removes everything, synchronously (exit and signal handlers cannot wait). */
  downSync(): void;
}

const live = new Set<ExitTeardown>();
const CLEANUP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooksInstalled = false;

/**
 * downSync() `x` when the process exits (normally, by an uncaught error, or by SIGINT/SIGTERM/SIGHUP) unless
 * forgetAtExit(x) came first. Register before creating anything, so that an interrupted set-up is removed too.
 */
export function teardownAtExit(x: ExitTeardown): void {
  live.add(x);
  installHooks();
}

/** x has been torn down by its owner; the hooks go with the last registration. */
export function forgetAtExit(x: ExitTeardown): void {
  live.delete(x);
  if (live.size === 0) removeHooks();
}

function cleanupAllSync(): void {
  for (const x of [...live]) {
    x.downSync();
    live.delete(x);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  // If nobody else handles the signal, die of it as we would have without our handler.
  if (process.listenerCount(signal) <= 1) {
    removeHooks();
    process.kill(process.pid, signal);
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const s of CLEANUP_SIGNALS) process.on(s, onSignal);
}

function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', cleanupAllSync);
  for (const s of CLEANUP_SIGNALS) process.off(s, onSignal);
}

function runScript(prefix: string, action: 'up' | 'down' | 'status' | 'nat', ...args: string[]): Promise<ExecResult> {
  return run('bash', [TESTBED_SCRIPT, action, ...args], {
    env: { ...process.env, RGW_PREFIX: prefix },
    timeoutMs: 120_000,
  });
}

/** Run a command (no namespace) and collect its output. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const child = cpSpawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // EPIPE when the command does not read its input
    child.stdin.end(opts.input ?? undefined);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: ExecResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (spawnError ? `spawn error: ${spawnError.message}\n` : ''),
        code: code ?? (signal ? 128 + signalNumber(signal) : 127),
        signal,
        timedOut,
      };
      if (opts.check && (result.code !== 0 || timedOut)) {
        reject(new ExecError(`${cmd} ${args.join(' ')}`, result));
      } else {
        resolve(result);
      }
    });
  });
}

export interface TestbedOptions {
  /** namespace-name prefix; default rgwt<6 random hex>- (test/run.sh removes leftover rgwt* namespaces) */
  prefix?: string;
}

/** One copy of the testbed (eight namespaces, NODES), torn down by down() or, at the latest, when the process exits. */
export class Testbed {
  private procs = new Set<NsProcess>();
  private isUp = true;

  private constructor(readonly prefix: string) {}

  /** Build a testbed (orchestration/netns/testbed.sh up) and register it for cleanup. */
  static async up(opts: TestbedOptions = {}): Promise<Testbed> {
    const prefix = opts.prefix ?? `rgwt${randomBytes(3).toString('hex')}-`;
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,39}$/.test(prefix)) throw new Error(`invalid testbed prefix '${prefix}'`);
    const tb = new Testbed(prefix);
    teardownAtExit(tb); // before building: an interrupted up is cleaned up too
    const r = await runScript(prefix, 'up');
    if (r.code !== 0) {
      await tb.down().catch(() => undefined);
      throw new ExecError(`RGW_PREFIX=${prefix} ${TESTBED_SCRIPT} up`, r);
    }
    return tb;
  }

  /** Full namespace name of a node, e.g. ns('gwa') === 'rgwt1a2b3c-gwa'. */
  ns(name: NodeName): string {
    if (!NODES.includes(name)) throw new Error(`unknown testbed node '${String(name)}'`);
    return `${this.prefix}${name}`;
  }

  /** Run `cmd args` inside a node's namespace (ip netns exec) and collect its output. */
  exec(node: NodeName, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns(node), cmd, ...args], opts);
  }

  /** exec() of `sh -c script`. */
  sh(node: NodeName, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(node, 'sh', ['-c', script], opts);
  }

  /** Start a long-running process inside a node's namespace; down() stops it if the test did not. */
  spawn(node: NodeName, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): NsProcess {
    if (!this.isUp) throw new Error(`testbed ${this.prefix} is down`);
    const p = new NsProcess(this.ns(node), cmd, args, opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** testbed.sh status: ok is true when every namespace, address, route and forwarding flag is in place. */
  async status(): Promise<{ ok: boolean; output: string }> {
    const r = await runScript(this.prefix, 'status');
    return { ok: r.code === 0, output: r.stdout + r.stderr };
  }

  /**
   * Switch the NAT router to `mode` (testbed.sh nat MODE): its rules are replaced in one transaction and
   * its connection tracking flushed, so flows through it must be started again. Throws on failure.
   */
  async natMode(mode: NatMode): Promise<void> {
    if (!NAT_MODES.includes(mode)) throw new Error(`unknown NAT mode '${String(mode)}' (one of: ${NAT_MODES.join(', ')})`);
    const r = await runScript(this.prefix, 'nat', mode);
    if (r.code !== 0) throw new ExecError(`RGW_PREFIX=${this.prefix} ${TESTBED_SCRIPT} nat ${mode}`, r);
  }

  /** The NAT router's current mode, as testbed.sh reports it. */
  async currentNatMode(): Promise<NatMode> {
    const r = await runScript(this.prefix, 'nat');
    const mode = r.stdout.trim() as NatMode;
    if (r.code !== 0 || !NAT_MODES.includes(mode)) {
      throw new ExecError(`RGW_PREFIX=${this.prefix} ${TESTBED_SCRIPT} nat (mode '${mode}')`, r);
    }
    return mode;
  }

  /** Stop every spawned process (SIGTERM, then SIGKILL after 2 s) and delete the namespaces. Idempotent. */
  async down(): Promise<void> {
    if (!this.isUp && !live.has(this)) return;
    this.isUp = false;
    await Promise.all([...this.procs].map((p) => p.stop('SIGTERM', 2_000)));
    const r = await runScript(this.prefix, 'down');
    forgetAtExit(this);
    if (r.code !== 0) throw new ExecError(`RGW_PREFIX=${this.prefix} ${TESTBED_SCRIPT} down`, r);
  }

  /** Synchronous teardown for process exit / signals (no graceful stop). */
  downSync(): void {
    this.isUp = false;
    for (const p of this.procs) p.killNow();
    spawnSync('bash', [TESTBED_SCRIPT, 'down'], {
      env: { ...process.env, RGW_PREFIX: this.prefix },
      stdio: 'ignore',
      timeout: 60_000,
    });
    live.delete(this);
  }
}
