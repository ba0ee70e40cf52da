/**
 * Every error realmgw reports, by stable code. The code is the contract with operators and scripts (the README
 * lists each one, test/errors/catalogue.test.ts keeps README, catalogue and src in step); the message is a
 * template whose `{slots}` the thrower fills; `exit` is the CLI's exit status when the error ends a command.
 * Entries without `exit` are not meant to end one: they are only logged by a running gateway, or they mean a
 * caller broke a contract (a bug). Should one reach the CLI all the same, it is reported as RGW_INTERNAL.
 *
 * Exit statuses stay the three the CLI has always had: 0 ok, 1 invalid input or failure, 2 usage error.
 */
export interface CatalogueEntry {
  readonly message: string;
  readonly exit?: number;
}

export const CATALOGUE = {
  // The command line.
  RGW_USAGE: { message: '{reason} (try {hint})', exit: 2 },
  RGW_LOG_LEVEL: { message: "--log-level '{level}' is not one of {levels}", exit: 2 },

  // Operator input: config, zones, policies, worker config. The problems themselves are printed before this
  // line as `file:line: key.path: reason`, all of them at once.
  RGW_INVALID_INPUT: { message: '{count} problem(s) found; nothing was applied', exit: 1 },

  // `realmgw run`, `rules`, `cleanup`: the kernel and the start-up of the gateway.
  RGW_START_FAILED: { message: 'the gateway failed to start: {reason}', exit: 1 },
  RGW_RULES_RENDER: { message: 'the kernel state cannot be rendered: {reason}', exit: 1 },
  RGW_KERNEL_STATE: { message: 'kernel state, {step}: {reason}', exit: 1 },
  RGW_NFT_FAILED: { message: '{reason}', exit: 1 },
  RGW_COMMAND_FAILED: { message: '{command}: exit {status}{stderr}', exit: 1 },
  RGW_METRICS_LISTEN: { message: 'the metrics listener cannot bind {address}: {reason}', exit: 1 },
  // One instance per runtime directory and per network namespace (ops/instance-lock.ts, ops/netns-claim.ts):
  // `run` and `cleanup` refuse, changing nothing.
  RGW_ALREADY_RUNNING: { message: 'another realmgw holds {lock}: pid {pid} ({command}); nothing was changed', exit: 1 },
  RGW_INSTANCE_LOCK: { message: 'cannot take the instance lock {lock}: {reason}', exit: 1 },

  // `realmgw stats`, `reservations`, `workers`, `forwards`: the running gateway's admin socket.
  RGW_ADMIN_NOT_CONFIGURED: { message: '{file} has no admin.socket: the running gateway cannot be asked', exit: 1 },
  RGW_ADMIN_UNREACHABLE: { message: 'cannot read {resource} from {socket}: {reason}', exit: 1 },
  RGW_NO_WORKERS: { message: 'the gateway at {socket} runs without workers', exit: 1 },

  // `realmgw reload`, SIGHUP, POST /reload: the files were not applied; the gateway keeps what it runs.
  RGW_RELOAD_REFUSED: { message: 'reload {outcome}: {count} problem(s); the running gateway is unchanged', exit: 1 },
  RGW_RELOAD_UNREACHABLE: { message: 'cannot ask the gateway to reload through {socket}: {reason}', exit: 1 },

  // `realmgw worker`: the agent.
  RGW_WORKER_REFUSED: { message: 'the gateway refused the registration: {reason}', exit: 1 },
  RGW_WORKER_FAILED: { message: 'worker agent: {reason}', exit: 1 },

  // The workers' registry, state file and kernel backends: logged by a running gateway; they end `run` when
  // they happen at start-up, and `cleanup` for the IPVS backend's services.
  RGW_WORKERS_CONFIG: { message: 'workers config: {problems}', exit: 1 },
  RGW_STATE_CORRUPT: { message: '{file}: {reason}', exit: 1 },
  RGW_STATE_VERSION: { message: '{file}: {reason}', exit: 1 },
  RGW_STATE_IO: { message: '{file}: {reason}', exit: 1 },
  RGW_NFT_WORKERS_REFUSED: { message: 'nftables worker backend: {problems}', exit: 1 },
  RGW_IPVS_CONFIG: { message: 'ipvs backend: {reason}', exit: 1 },
  RGW_IPVS_BAD_DIFF: { message: 'ipvs backend: {reason}', exit: 1 },
  RGW_IPVS_UNAVAILABLE: { message: 'ipvs backend: {reason}', exit: 1 },
  RGW_IPVS_APPLY: { message: 'ipvs backend: {reason}', exit: 1 },
  RGW_IPVS_ROLLBACK: { message: 'ipvs backend: {reason}', exit: 1 },
  RGW_IPVS_PARSE: { message: '{reason}', exit: 1 },

  // Only logged: the counters behind the admin API's traffic figures.
  RGW_NFT_WORKERS_COUNTERS: { message: 'nftables worker counters: {reason}' },
  // A caller broke a contract (the IPVS backend's call order, the circular pool's requests): a bug in realmgw.
  RGW_IPVS_STATE: { message: 'ipvs backend: {reason}' },
  RGW_POOL_INVALID: { message: 'circular pool: {reason}' },
  // Anything uncatalogued that reaches the CLI: a bug, so the stack is printed for the report.
  RGW_INTERNAL: { message: 'unexpected error (please report it): {stack}', exit: 1 },
} as const satisfies Record<`RGW_${string}`, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(CATALOGUE, value);
}
