/**
 * `realmgw worker --config FILE [--once]`. Daemon mode logs to stdout and runs until SIGTERM/SIGINT, then
 * deregisters and exits 0. `--once` discovers, registers, prints the endpoints as one JSON line on stdout
 * and exits (logs go to stderr so stdout stays machine-readable); the leases stay until they expire.
 */
import { stopSignal } from './stop-signal.js';
import { pino } from 'pino';
import { RealmgwError } from '../errors/realmgw-error.js';
import { createLogger } from '../log.js';
import { PermanentRefusal, WorkerAgent } from '../worker-agent/agent.js';
import { loadWorkerConfig, type WorkerAgentConfig } from '../worker-agent/config.js';

export interface WorkerCommandOptions {
  once: boolean;
  logLevel?: string;
  pretty?: boolean;
}

export async function workerCommand(file: string, opts: WorkerCommandOptions): Promise<number> {
  // An invalid config is an InputError: the CLI prints its problems, and nothing was registered.
  const config: WorkerAgentConfig = loadWorkerConfig(file);
  const level = opts.logLevel ?? config.log.level;
  // --once: synchronous, so the fatal line is out before the catalogue's line that ends stderr
  const root = opts.once ? pino({ level, name: 'realmgw' }, pino.destination({ dest: 2, sync: true })) : createLogger(level, opts.pretty ?? process.stdout.isTTY === true);
  const log = root.child({ worker: config.name });
  const agent = new WorkerAgent(config, log);
  void stopSignal(log).then(() => agent.stop());

  try {
    if (opts.once) {
      const body = await agent.registerOnce();
      process.stdout.write(`${JSON.stringify({ ...body, endpoints: body.leases.map((l) => l.endpoint) })}\n`);
      return 0;
    }
    log.info({ gateway: `${config.gateway.address}:${config.gateway.port}`, services: config.services.length }, 'worker agent starting');
    await agent.run();
    log.info('stopped');
    return 0;
  } catch (err) {
    // The log keeps the gateway's wire code for whoever reads the worker's logs; stderr gets the catalogue's line.
    const failure =
      err instanceof PermanentRefusal
        ? new RealmgwError('RGW_WORKER_REFUSED', { reason: err.refusal.message }, { cause: err })
        : new RealmgwError('RGW_WORKER_FAILED', { reason: (err as Error).message }, { cause: err });
    log.fatal({ code: failure.code, refusal: err instanceof PermanentRefusal ? err.refusal.code : undefined }, failure.message);
    throw failure;
  }
}
