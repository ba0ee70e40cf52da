/**
 * `realmgw worker --config FILE [--once]`. Daemon mode logs to stdout and runs until SIGTERM/SIGINT, then
 * deregisters and exits 0. `--once` discovers, registers, prints the endpoints as one JSON line on stdout
 * and exits (logs go to stderr so stdout stays machine-readable); the leases stay until they expire.
 */
import { stopSignal } from './stop-signal.js';
import { pino } from 'pino';
import { InputError, formatProblem } from '../errors.js';
import { createLogger } from '../log.js';
import { PermanentRefusal, WorkerAgent } from '../worker-agent/agent.js';
import { loadWorkerConfig, type WorkerAgentConfig } from '../worker-agent/config.js';

export interface WorkerCommandOptions {
  once: boolean;
  logLevel?: string;
  pretty?: boolean;
}

export async function workerCommand(file: string, opts: WorkerCommandOptions): Promise<number> {
  let config: WorkerAgentConfig;
  try {
    config = loadWorkerConfig(file);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`realmgw: ${err.problems.length} problem(s) found; nothing was registered\n`);
    return 1;
  }
  const level = opts.logLevel ?? config.log.level;
  const root = opts.once ? pino({ level, name: 'realmgw' }, pino.destination(2)) : createLogger(level, opts.pretty ?? process.stdout.isTTY === true);
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
    const message = err instanceof PermanentRefusal ? `the gateway refused the registration: ${err.refusal.message}` : (err as Error).message;
    log.fatal({ code: err instanceof PermanentRefusal ? err.refusal.code : undefined }, message);
    return 1;
  }
}
