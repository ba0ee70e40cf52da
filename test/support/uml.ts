// A user-mode Linux guest for tests that need kernel features this host lacks (IPVS). The guest is Debian's
// linux.uml with the host's / as a read-only root (hostfs): it runs the host's node, ipvsadm, iproute2 and the
// compiled dist/ code directly. Writable places in the guest are tmpfs only (/run, with TMPDIR under it).
//
//   const r = await runInUml({ script: 'node --test dist/test/support/uml/x.js', modules: ['ip_vs'] });
//   assert.equal(r.code, 0, r.output);
//
// The guest's status comes back through a console line carrying a per-run token (so nothing the script
// prints can fake it); no such line means the guest died or hung. A hard timeout kills the guest's whole
// process group, and its files (UML's pid/mconsole directory, the scripts) live in one temp directory that is
// removed afterwards, also when the test process exits early.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './repo.js';

export const UML_KERNEL = '/usr/bin/linux.uml';
export const UML_MODULES_ROOT = '/usr/lib/uml/modules';

export interface UmlOptions {
  /** Shell script run as root inside the guest, from the repository root; its exit status is the result. */
  script: string;
  /** Kernel modules to load first (with their dependencies), e.g. ['ip_vs', 'veth']. */
  modules?: readonly string[];
  /** Kill the guest after this long (default 60 s). */
  timeoutMs?: number;
  memMb?: number;
}

export interface UmlResult {
  /** The guest's UML id (umid=…, also in its temp directory's name). */
  id: string;
  /** The script's exit status; undefined when the guest never reported one (crash, hang, timeout). */
  code: number | undefined;
  /** Everything the guest printed on its console (kernel messages and the script's output). */
  output: string;
  timedOut: boolean;
  ms: number;
}

/** Why a guest cannot boot here, or undefined when it can. */
export function umlUnavailable(): string | undefined {
  if (!existsSync(UML_KERNEL)) return `${UML_KERNEL} is missing: install the Debian package user-mode-linux (orchestration/install-deps.sh does)`;
  if (!existsSync(UML_MODULES_ROOT)) return `${UML_MODULES_ROOT} is missing: the user-mode-linux package is incomplete`;
  return undefined;
}

const live = new Set<{ pid?: number; dir: string }>();
let hooked = false;

function cleanupLiveSync(): void {
  for (const g of live) {
    if (g.pid !== undefined) {
      try {
        process.kill(-g.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(g.dir, { recursive: true, force: true });
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupLiveSync);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The guest's init: mount what tools need, load modules, run the script, report its status, power off. */
function initScript(scriptPath: string, modules: readonly string[], marker: string): string {
  return `#!/bin/sh
# the host's node first, wherever it is installed (the guest sees the host's / read-only)
export PATH=${shellQuote(dirname(process.execPath))}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/run/home TMPDIR=/run/tmp LC_ALL=C
report() { echo "${marker} $1"; poweroff -f >/dev/null 2>&1 || echo o > /proc/sysrq-trigger; sleep 10; }
mount -t proc proc /proc && mount -t sysfs sys /sys && mount -t tmpfs run /run || report 125
mkdir -p /run/home /run/tmp /run/netns /run/mods/lib/modules
# modprobe -d wants DIR/lib/modules/<release>; the package keeps the tree elsewhere
ln -s ${UML_MODULES_ROOT}/$(uname -r) /run/mods/lib/modules/$(uname -r)
for m in ${modules.map(shellQuote).join(' ')}; do
  modprobe -d /run/mods "$m" || { echo "uml: modprobe $m failed"; report 125; }
done
cd ${shellQuote(REPO_ROOT)} || report 125
sh ${shellQuote(scriptPath)}
report $?
`;
}

/** Boots a guest, runs `opts.script` in it and returns its status and console output. Never leaves a guest behind. */
export async function runInUml(opts: UmlOptions): Promise<UmlResult> {
  const missing = umlUnavailable();
  if (missing) throw new Error(`cannot boot a user-mode Linux guest: ${missing}`);
  const id = `rgwt${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join('/tmp', `${id}-uml-`));
  const marker = `RGW-UML-STATUS-${randomBytes(8).toString('hex')}`;
  const scriptPath = join(dir, 'script.sh');
  const initPath = join(dir, 'init.sh');
  writeFileSync(scriptPath, opts.script);
  writeFileSync(initPath, initScript(scriptPath, opts.modules ?? [], marker), { mode: 0o755 });
  const guest = { dir, pid: undefined as number | undefined };
  live.add(guest);
  hookExit();
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    const child = spawn(
      UML_KERNEL,
      [`mem=${opts.memMb ?? 512}M`, 'rootfstype=hostfs', 'rootflags=/', 'ro', `init=${initPath}`, 'con=null', 'con0=fd:0,fd:1', `umid=${id}`, `uml_dir=${dir}/`, 'quiet'],
      // the memory file goes to TMPDIR: keep it in our directory too
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, TMPDIR: dir } },
    );
    guest.pid = child.pid;
    const chunks: Buffer[] = [];
    let code: number | undefined;
    let timedOut = false;
    let tail = '';
    const markerLine = new RegExp(`^${marker} (\\d+)\\s*$`, 'm');
    let afterMarker: NodeJS.Timeout | undefined;
    const onData = (b: Buffer) => {
      chunks.push(b);
      tail = (tail + b.toString('latin1')).slice(-4096);
      const m = code === undefined ? markerLine.exec(tail) : null;
      if (m) {
        code = Number(m[1]);
        // a guest that reported but does not halt is not worth waiting for
        afterMarker = setTimeout(() => kill(child.pid), 5_000);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      timedOut = true;
      kill(child.pid);
    }, timeoutMs);
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', (e) => {
        chunks.push(Buffer.from(`\nspawn ${UML_KERNEL}: ${e.message}\n`));
        resolve();
      });
    });
    clearTimeout(timer);
    clearTimeout(afterMarker);
    kill(child.pid); // UML's helper processes share the group; none may outlive the guest
    const output = Buffer.concat(chunks).toString('utf8').replace(/\r/g, '');
    return { id, code: timedOut ? undefined : code, output: output.split('\n').filter((l) => !l.startsWith(marker)).join('\n'), timedOut, ms: Date.now() - started };
  } finally {
    live.delete(guest);
    rmSync(dir, { recursive: true, force: true });
    // UML falls back to ~/.uml/<umid> when uml_dir is unusable
    const home = process.env.HOME;
    if (home) rmSync(join(home, '.uml', id), { recursive: true, force: true });
  }
}

function kill(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** For tests that must not continue without a guest: fails loudly instead of skipping. */
export function requireUml(): void {
  const missing = umlUnavailable();
  if (missing) throw new Error(`this test needs a user-mode Linux guest (real IPVS); ${missing}`);
}

