import type { Logger } from 'pino';

/**
 * Resolves on the first SIGTERM or SIGINT; later ones are logged and ignored, so a second Ctrl-C cannot cut
 * the removal of kernel state short.
 *
 * The listeners stay installed (process.on, never once) for the life of the process, and that matters:
 * execa's child cleanup hooks signals too (signal-exit), and when it finds itself the only listener left it
 * re-raises the signal, killing us mid-cleanup while a command (an `nft -j list`, an `ipvsadm`) happens to run.
 */
export function stopSignal(log: Logger): Promise<NodeJS.Signals> {
  return processSignals(log).stop;
}

export interface ProcessSignals {
  /** The first SIGTERM or SIGINT: drain, then stop. */
  stop: Promise<NodeJS.Signals>;
  /** The second one: the operator will not wait for the lame duck (stop at once; the teardown still runs whole). */
  again: Promise<NodeJS.Signals>;
}

/**
 * `run`'s signals: SIGTERM / SIGINT as stopSignal, the second one resolving `again`; SIGHUP calls `onReload`
 * (Node's default for SIGHUP ends the process on the spot and leaves realmgw's fail-closed rules behind).
 */
export function processSignals(log: Logger, onReload?: () => void): ProcessSignals {
  let count = 0;
  let resolveStop!: (s: NodeJS.Signals) => void;
  let resolveAgain!: (s: NodeJS.Signals) => void;
  const stop = new Promise<NodeJS.Signals>((r) => (resolveStop = r));
  const again = new Promise<NodeJS.Signals>((r) => (resolveAgain = r));
  const on = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      log.info({ signal }, 'stopping');
      resolveStop(signal);
    } else if (count === 2) {
      log.warn({ signal }, 'second stop signal: no more waiting; finishing the cleanup first');
      resolveAgain(signal);
    } else log.warn({ signal }, 'already stopping; finishing the cleanup first');
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  if (onReload) process.on('SIGHUP', () => onReload());
  return { stop, again };
}
