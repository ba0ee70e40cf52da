/**
 * One realmgw per runtime directory. `run` and `cleanup` take an exclusive flock on <runtime dir>/realmgw.lock
 * before anything touches the kernel, and refuse while another live process holds it: a second gateway would
 * otherwise replace the first one's nft table, fail later (DNS ports, the queue) and, rolling back, delete the
 * table the first one still serves from. The lock dies with its process (the kernel drops an flock when the
 * last descriptor closes), so a gateway killed with SIGKILL never leaves a stale lock behind; the pid written
 * into the file is only there to name the holder.
 *
 * The runtime directory is the admin socket's directory (under systemd, RuntimeDirectory=realmgw gives
 * /run/realmgw), or /run/realmgw for a config without one that has kernel state. Gateways with other runtime directories in one
 * network namespace are kept apart by netns-claim.ts.
 */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RealmgwError } from '../errors/realmgw-error.js';
import { processCalls } from './process-calls.js';

export const DEFAULT_RUNTIME_DIR = '/run/realmgw';
export const LOCK_FILE_NAME = 'realmgw.lock';

/**
 * Where the lock of a gateway with this config lives (pure). None for a gateway with neither an admin socket
 * nor kernel state: it shares nothing with another instance but its ports (which refuse a second binder), and
 * it may run unprivileged, where /run/realmgw cannot be made.
 */
export function lockPathFor(config: { admin?: { socket: string } } | undefined, touchesKernel = true): string | undefined {
  if (config?.admin) return join(dirname(config.admin.socket), LOCK_FILE_NAME);
  return touchesKernel ? join(DEFAULT_RUNTIME_DIR, LOCK_FILE_NAME) : undefined;
}

/** Who holds the lock, from the lock file's text and /proc/<pid>/cmdline (NUL-separated); pure. */
export function describeHolder(lockText: string, cmdline: string | undefined): { pid: string; command: string } {
  const pid = /^\s*(\d+)\s*$/.exec(lockText)?.[1];
  if (pid === undefined) return { pid: 'unknown (it has not written it yet)', command: 'unknown' };
  const command = cmdline?.replace(/\0+$/, '').split('\0').join(' ');
  return { pid, command: command || 'unknown (no /proc entry)' };
}

export interface LockDeps {
  flockTry(fd: number): boolean;
  /** /proc/<pid>/cmdline, or undefined when it cannot be read. */
  cmdline(pid: string): string | undefined;
  pid: number;
}

const defaultDeps = (): LockDeps => ({
  flockTry: (fd) => processCalls().flockTry(fd),
  cmdline: (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      return undefined;
    }
  },
  pid: process.pid,
});

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class InstanceLock {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  /**
   * Takes the lock or throws RGW_ALREADY_RUNNING naming the holder (RGW_INSTANCE_LOCK when the file cannot be
   * used at all). The file is kept on release: removing it would let a third process lock a new inode while a
   * second still waits on the old one.
   */
  static acquire(path: string, deps: LockDeps = defaultDeps()): InstanceLock {
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // libuv opens with O_CLOEXEC: the nft, iptables and conntrack children never inherit (and so never hold) it.
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (err) {
      throw new RealmgwError('RGW_INSTANCE_LOCK', { lock: path, reason: errText(err) }, { cause: err });
    }
    let taken: boolean;
    try {
      taken = deps.flockTry(fd);
    } catch (err) {
      closeSync(fd);
      throw new RealmgwError('RGW_INSTANCE_LOCK', { lock: path, reason: errText(err) }, { cause: err });
    }
    if (!taken) {
      const text = readFileSync(fd, 'utf8');
      closeSync(fd);
      const pid = /^\s*(\d+)\s*$/.exec(text)?.[1];
      const holder = describeHolder(text, pid === undefined ? undefined : deps.cmdline(pid));
      throw new RealmgwError('RGW_ALREADY_RUNNING', { lock: path, ...holder });
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${deps.pid}\n`, 0);
    return new InstanceLock(path, fd);
  }

  /** Lets the next instance in (process exit does the same). */
  release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    ftruncateSync(fd, 0);
    closeSync(fd);
  }
}
