/**
 * The command table: every `realmgw` command with its options, examples and handler, in the order
 * `realmgw --help` lists them. Adding a command is a module with its handler and one entry here.
 *
 * Handlers are imported when their command runs: `--help`, `--version` and `secret` then load a few small
 * modules instead of the whole gateway (pino, prom-client, the data plane), which took seconds on a busy host.
 */
import { CONFIG, JSON_OUTPUT, LOG_OPTIONS, type Command, type CommandArgs } from './command.js';

const compile = async (file: string) => (await import('../compile/compile.js')).compile(file);
const loadConfig = async (file: string) => (await import('../config/load-config.js')).loadConfig(file);

const DEMO = 'orchestration/netns/gwa.demo.yaml';
const str = (a: CommandArgs, name: string) => a.values[name] as string | undefined;
const flag = (a: CommandArgs, name: string) => a.values[name] === true;
/** The --config of a command that declares it required (the parser has checked it is there). */
const config = (a: CommandArgs) => a.values.config as string;

export const COMMANDS: readonly Command[] = [
  {
    name: 'run',
    summary: 'start the gateway (DNS front, circular pool, data plane, admin API) until SIGTERM/SIGINT',
    description: 'Installs its kernel state, serves DNS, and on SIGTERM or SIGINT stops and removes that state again.',
    options: [CONFIG, ...LOG_OPTIONS],
    examples: [`ip netns exec rgw-gwa realmgw run --config ${DEMO}`],
    run: async (a) => (await import('./run-command.js')).runCommand(config(a), { logLevel: str(a, 'log-level'), pretty: a.values.pretty as boolean | undefined }),
  },
  {
    name: 'check',
    summary: 'validate config, zones and policies; print every problem; change nothing',
    description: 'Exit 0 when the files are valid (warnings allowed), 1 with every problem as file:line: key.path: reason.',
    options: [CONFIG, { name: 'json', type: 'boolean', description: 'one JSON object: ok, counts, warnings, problems (file, line, key, reason)' }],
    examples: [`realmgw check --config ${DEMO}`, `realmgw check --json --config ${DEMO}`],
    run: async (a) => (await import('./check-command.js')).checkCommand(config(a), flag(a, 'json')),
  },
  {
    name: 'rules',
    summary: 'print the kernel state (nft, iptables, ipsets) run would install; nft -c it',
    options: [CONFIG],
    examples: [`realmgw rules --config ${DEMO}`],
    run: async (a) => (await import('./kernel-commands.js')).rulesCommand(await compile(config(a))),
  },
  {
    name: 'cleanup',
    summary: "remove realmgw's kernel state (nft table, chains, jumps, ipsets)",
    description: "Without --config it removes the default table and names; with it, the config's own (and its IPVS services).",
    options: [{ ...CONFIG, required: false }],
    examples: ['realmgw cleanup', `realmgw cleanup --config ${DEMO}`],
    run: async (a) => {
      const compiled = a.values.config === undefined ? undefined : await compile(config(a));
      // cleanup, like run, waits for no one: it refuses while a gateway holds the lock (ops/instance-lock.ts) or
      // the network namespace (ops/netns-claim.ts); both are held until the process exits.
      const { InstanceLock, lockPathFor } = await import('../ops/instance-lock.js');
      InstanceLock.acquire(lockPathFor(compiled?.config)!);
      await (await import('../ops/netns-claim.js')).NetnsClaim.take();
      return (await import('./kernel-commands.js')).cleanupCommand(compiled);
    },
  },
  {
    name: 'reload',
    summary: 'make the running gateway read its files again (as SIGHUP) and apply what changed',
    description:
      "Asks the gateway on its admin socket (POST /reload); it reads the files it was started with, checks them whole and applies the difference (DNS at once, the kernel in one transaction). Exit 1, nothing changed, when they are invalid or change a setting that needs a restart.",
    options: [CONFIG],
    examples: [`realmgw reload --config ${DEMO}`],
    run: async (a) => (await import('./reload-command.js')).reloadCommand(await loadConfig(config(a))),
  },
  {
    name: 'stats',
    summary: "the running gateway's counters (DNS, pool, data plane, defences, proxy, forwards)",
    description: "Read from the gateway's admin socket (admin.socket in the config).",
    options: [CONFIG, JSON_OUTPUT],
    examples: [`realmgw stats --config ${DEMO}`, `realmgw stats --json --config ${DEMO}`],
    run: async (a) => (await import('./stats-command.js')).statsCommand(await loadConfig(config(a)), flag(a, 'json')),
  },
  {
    name: 'reservations',
    summary: "the running gateway's live reservations (address, service, target, expiry)",
    description: "Read from the gateway's admin socket (admin.socket in the config).",
    options: [CONFIG, JSON_OUTPUT],
    examples: [`realmgw reservations --config ${DEMO}`],
    run: async (a) => (await import('./reservations-command.js')).reservationsCommand(await loadConfig(config(a)), flag(a, 'json')),
  },
  {
    name: 'workers',
    summary: "the running gateway's workers, endpoints and traffic",
    description: "Read from the gateway's admin socket (admin.socket in the config).",
    options: [CONFIG, JSON_OUTPUT],
    examples: [`realmgw workers --config ${DEMO}`],
    run: async (a) => (await import('./workers-command.js')).workersCommand(await loadConfig(config(a)), flag(a, 'json')),
  },
  {
    name: 'forwards',
    summary: "the running gateway's static forwards and their traffic",
    description: "Read from the gateway's admin socket (admin.socket in the config).",
    options: [CONFIG, JSON_OUTPUT],
    examples: [`realmgw forwards --config ${DEMO}`],
    run: async (a) => (await import('./forwards-command.js')).forwardsCommand(await loadConfig(config(a)), flag(a, 'json')),
  },
  {
    name: 'worker',
    summary: 'run a worker agent (worker config): STUN, register, heartbeat',
    description: 'Runs until SIGTERM/SIGINT, then deregisters. --once registers, prints the endpoints as JSON and exits.',
    options: [{ ...CONFIG, description: 'worker configuration (YAML)' }, { name: 'once', type: 'boolean', description: 'register once, print the endpoints as one JSON line, exit' }, ...LOG_OPTIONS],
    examples: ['ip netns exec rgw-worker1 realmgw worker --config orchestration/netns/worker1.yaml'],
    run: async (a) => (await import('./worker-command.js')).workerCommand(config(a), { once: flag(a, 'once'), logLevel: str(a, 'log-level'), pretty: a.values.pretty as boolean | undefined }),
  },
  {
    name: 'secret',
    summary: "a new worker secret and its secretHash line for the gateway's config",
    description: 'The secret goes to the worker (secretFile, mode 0600); the gateway config holds only the hash.',
    options: [
      { name: 'name', type: 'string', value: 'NAME', description: "the worker's name, filled into the printed config lines" },
      { name: 'json', type: 'boolean', description: 'one JSON object: name, secret, secretHash' },
    ],
    examples: ['realmgw secret --name worker3'],
    run: async (a) => (await import('./secret-command.js')).secretCommand(str(a, 'name'), flag(a, 'json')),
  },
];
