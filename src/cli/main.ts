#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { RealmgwError } from '../errors/realmgw-error.js';
import { formatProblem } from '../errors.js';
import { endsCommand, reportError } from './report-error.js';
import { compile } from '../compile/compile.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { cleanupCommand, rulesCommand } from './kernel-commands.js';
import { processSignals } from './stop-signal.js';
import { reloadCommand } from './reload-command.js';
import { loadConfig } from '../config/load-config.js';
import { workerCommand } from './worker-command.js';
import { workersCommand } from './workers-command.js';
import { forwardsCommand } from './forwards-command.js';

const HELP = `realmgw - DNS-driven realm gateway

Usage:
  realmgw run   --config FILE   start the gateway (DNS front, circular pool, data plane, admin API)
  realmgw check --config FILE   validate config, zones and policies; print every problem; change nothing
  realmgw rules --config FILE   print the kernel state (nft, iptables, ipsets) run would install; nft -c it
  realmgw cleanup [--config FILE]  remove realmgw's kernel state (nft table, chains, jumps, ipsets)
  realmgw reload --config FILE  make the running gateway read its files again (as SIGHUP); prints what
                                changed; exit 1 and nothing changed when they are invalid or need a restart
  realmgw workers [--json] --config FILE
                                the gateway's workers, endpoints and traffic (via its admin socket)
  realmgw forwards [--json] --config FILE
                                the gateway's static forwards and their traffic (via its admin socket)
  realmgw worker --config FILE [--once]
                                run a worker agent (worker config): STUN, register, heartbeat;
                                --once registers, prints the endpoints as JSON and exits
  realmgw --help                this text

Options:
  -c, --config FILE   gateway configuration (YAML)
      --log-level L   fatal|error|warn|info|debug|trace (overrides the config)
      --pretty        human-readable logs even when stdout is not a terminal

Exit status: 0 ok, 1 invalid input or failure to start, 2 usage error.
Errors are printed as CODE: message; the README lists every code.`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

function usage(reason: string): never {
  throw new RealmgwError('RGW_USAGE', { reason });
}

/** An error that ends `run` at start-up keeps its own code when it has one an operator can look up. */
function startFailure(err: unknown): Error {
  if (endsCommand(err)) return err;
  return new RealmgwError('RGW_START_FAILED', { reason: err instanceof Error ? err.message : String(err) }, { cause: err });
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string' },
        pretty: { type: 'boolean' },
        once: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const level = values['log-level'];
  // Checked before anything is loaded: pino would only refuse it once the gateway is half built.
  if (level !== undefined && !LOG_LEVELS.includes(level)) throw new RealmgwError('RGW_LOG_LEVEL', { level, levels: LOG_LEVELS.join('|') });
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const command = positionals[0];
  if (!command) usage('no command given');
  if (!['run', 'check', 'rules', 'cleanup', 'reload', 'worker', 'workers', 'forwards'].includes(command)) usage(`unknown command '${command}'`);
  if (command === 'cleanup' && !values.config) return cleanupCommand(undefined);
  if (!values.config) usage(`'${command}' needs --config FILE`);
  if (values.once && command !== 'worker') usage('--once is an option of worker');
  if (values.json && command !== 'workers' && command !== 'forwards') usage('--json is an option of workers and forwards');
  // A worker's config is not a gateway config: nothing below applies to it.
  if (command === 'worker') return workerCommand(values.config, { once: values.once === true, logLevel: values['log-level'], pretty: values.pretty });
  if (command === 'workers') return workersCommand(loadConfig(values.config), values.json === true);
  if (command === 'forwards') return forwardsCommand(loadConfig(values.config), values.json === true);
  if (command === 'reload') return reloadCommand(loadConfig(values.config));

  const compiled = compile(values.config);

  if (command === 'rules') return rulesCommand(compiled);
  if (command === 'cleanup') return cleanupCommand(compiled);

  if (command === 'check') {
    const { config, zones, policies } = compiled;
    // Warnings do not fail the check: the files mean what they say, minus the keys named here.
    for (const w of policies.warnings) process.stderr.write(`warning: ${formatProblem(w)}\n`);
    const services = [...policies.hosts.values()].reduce((n, h) => n + h.services.length, 0);
    process.stdout.write(
      `ok: ${config.file}: ${zones.length} zones, ${policies.hosts.size} hosts, ` +
        `${services} service names, ${config.poolAddresses.length} pool addresses\n`,
    );
    return 0;
  }

  const log = createLogger(values['log-level'] ?? compiled.config.log.level, values.pretty ?? process.stdout.isTTY === true);
  for (const m of compiled.policies.merges) log.debug(m, 'policy merge: later file overrides earlier key');
  for (const w of compiled.policies.warnings) log.warn(w, 'policy warning');
  const gateway = new Gateway(compiled, log);
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

  await signals.stop;
  running = false;
  await gateway.drain(gateway.lameDuckMs, signals.again);
  await gateway.stop();
  log.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    const report = reportError(err);
    for (const line of report.lines) process.stderr.write(`${line}\n`);
    if (err instanceof RealmgwError && err.code === 'RGW_USAGE') process.stderr.write(`\n${HELP}\n`);
    process.exitCode = report.exit;
  },
);
