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
  return new Promise((resolve) => {
    let stopping = false;
    const on = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'already stopping; finishing the cleanup first');
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
