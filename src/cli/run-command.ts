/**
 * `realmgw run --config FILE`: compiles the files, starts the gateway, reloads on SIGHUP, runs until SIGTERM or
 * SIGINT, drains for the lame duck (a second signal cuts it short), stops (its kernel state removed), exits 0.
 */
import { compile } from '../compile/compile.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { endsCommand } from './report-error.js';
import { processSignals } from './stop-signal.js';
import { InstanceLock, lockPathFor } from '../ops/instance-lock.js';
import { NetnsClaim } from '../ops/netns-claim.js';
import { followReadiness, systemd } from '../ops/systemd.js';

export interface RunOptions {
  logLevel?: string;
  pretty?: boolean;
}

/** An error that ends `run` at start-up keeps its own code when it has one an operator can look up. */
function startFailure(err: unknown): Error {
  if (endsCommand(err)) return err;
  return new RealmgwError('RGW_START_FAILED', { reason: err instanceof Error ? err.message : String(err) }, { cause: err });
}

export async function runCommand(file: string, opts: RunOptions): Promise<number> {
  const compiled = compile(file);
  // Before anything touches the kernel: a second gateway must not replace (and, failing, delete) the first one's state.
  const touchesKernel = compiled.kernel !== undefined || compiled.workers !== undefined;
  const lockPath = lockPathFor(compiled.config, touchesKernel);
  const lock = lockPath === undefined ? undefined : InstanceLock.acquire(lockPath);
  // ... and one per network namespace when it has kernel state, whatever its runtime directory.
  const claim = touchesKernel ? await NetnsClaim.take() : undefined;
  const log = createLogger(opts.logLevel ?? compiled.config.log.level, opts.pretty ?? process.stdout.isTTY === true);
  const sd = systemd();
  sd.useLogger(log);
  const stopWatchdog = sd.startWatchdog();
  for (const m of compiled.policies.merges) log.debug(m, 'policy merge: later file overrides earlier key');
  for (const w of compiled.policies.warnings) log.warn(w, 'policy warning');
  const gateway = new Gateway(compiled, log);
  gateway.reloadObserver = { begin: () => sd.reloading(), end: () => sd.ready() };
  let running = false;
  // Installed before start: a SIGTERM or SIGHUP during start-up must not end the process on the spot.
  const signals = processSignals(log, () => {
    if (!running) return log.warn('SIGHUP during start-up or stop: ignored');
    void gateway.reload(); // logs and counts its outcome
  });
  try {
    await gateway.start();
  } catch (err) {
    log.fatal({ err }, 'gateway failed to start');
    throw startFailure(err);
  }
  running = true;
  log.info({ endpoints: gateway.endpoints, pool: compiled.config.poolAddresses.length }, 'realmgw running');
  followReadiness(gateway.readiness, sd, () => `serving DNS on ${[...new Set(gateway.endpoints.map((e) => `${e.address}:${e.port}`))].join(' ')}`);

  await signals.stop;
  running = false;
  sd.stopping();
  await gateway.drain(gateway.lameDuckMs, signals.again);
  await gateway.stop();
  stopWatchdog();
  await claim?.release();
  lock?.release();
  log.info('stopped');
  return 0;
}
