/**
 * `realmgw run --config FILE`: compiles the files, starts the gateway, runs until SIGTERM or SIGINT, stops it
 * (its kernel state removed) and exits 0.
 */
import { compile } from '../compile/compile.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { endsCommand } from './report-error.js';
import { stopSignal } from './stop-signal.js';
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
  try {
    await gateway.start();
  } catch (err) {
    log.fatal({ err }, 'gateway failed to start');
    throw startFailure(err);
  }
  log.info({ endpoints: gateway.endpoints, pool: compiled.config.poolAddresses.length }, 'realmgw running');
  followReadiness(gateway.readiness, sd, () => `serving DNS on ${[...new Set(gateway.endpoints.map((e) => `${e.address}:${e.port}`))].join(' ')}`);

  await stopSignal(log);
  sd.stopping();
  await gateway.stop();
  stopWatchdog();
  await claim?.release();
  lock?.release();
  log.info('stopped');
  return 0;
}
