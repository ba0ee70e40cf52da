import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { Testbed, NodeName, NsProcess } from './netns.js';
import type { Step, StepResult } from './dns-probe.js';
import { cliCommand, makeTempDir, REPO_ROOT, writeTempYaml } from './repo.js';
import { adminGet } from '../../src/admin/admin-client.js';

export { adminGet };

export const DEMO_CONFIG = path.join(REPO_ROOT, 'orchestration', 'netns', 'gwa.demo.yaml');
const PROBE = path.join(REPO_ROOT, 'dist', 'test', 'support', 'dns-probe.js');
const UPSTREAM = path.join(REPO_ROOT, 'dist', 'test', 'support', 'upstream-dns.js');

export interface RunningGateway {
  proc: NsProcess;
  configFile: string;
  adminSocket: string;
  stats(): Promise<GatewayStats>;
}

export interface GatewayStats {
  dns: { wan: { [k: string]: number }; lan: { [k: string]: number } };
  pool: { reserved: number; consumed: number; expired: number; exhausted: number; hostLimited: number; live: number; size: number };
}

type Json = { [k: string]: unknown };

function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) {
      delete out[k]; // null removes a section of the demo config (e.g. `pbra: null`: the defences off)
      continue;
    }
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? merge(base[k] as Json, v as Json) : v;
  }
  return out;
}

/** Writes the demo config with `overrides` merged in (paths made absolute, admin socket in a temp dir). */
export async function writeGatewayConfig(overrides: Json = {}): Promise<{ configFile: string; adminSocket: string }> {
  const demo = parse(await readFile(DEMO_CONFIG, 'utf8')) as Json;
  const dir = await makeTempDir('gw');
  const adminSocket = path.join(dir, 'admin.sock');
  const config = merge(
    {
      ...demo,
      zones: path.resolve(path.dirname(DEMO_CONFIG), demo.zones as string),
      policies: path.resolve(path.dirname(DEMO_CONFIG), demo.policies as string),
      admin: { socket: adminSocket },
      // each gateway its own workers' state file: the demo's lives in /run/realmgw and is shared by testbeds
      ...(demo.workers ? { workers: { ...(demo.workers as Json), stateFile: path.join(dir, 'workers-state.json') } } : {}),
    },
    overrides,
  );
  const configFile = await writeTempYaml(stringify(config), { dir, name: 'gateway.yaml' });
  return { configFile, adminSocket };
}

/**
 * Writes the demo config with `overrides` merged in (writeGatewayConfig) and starts `realmgw run` in the
 * testbed's gwa namespace; resolves once it logs that it is running.
 */
export async function startGateway(tb: Testbed, overrides: Json = {}): Promise<RunningGateway> {
  const { configFile, adminSocket } = await writeGatewayConfig(overrides);
  const { cmd, args } = cliCommand(['run', '--config', configFile]);
  const proc = tb.spawn('gwa', cmd, args);
  await proc.ready('realmgw running', 15_000);
  return { proc, configFile, adminSocket, stats: () => adminGet(adminSocket, '/stats') as Promise<GatewayStats> };
}


/** Runs DNS probe steps from inside a namespace and returns their results in order. */
export async function probe(tb: Testbed, node: NodeName, steps: Step[]): Promise<StepResult[]> {
  const r = await tb.exec(node, process.execPath, [PROBE], { input: JSON.stringify(steps) });
  if (r.code !== 0) throw new Error(`dns-probe failed in ${node}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StepResult[];
}

/** Starts the stand-in upstream resolver in a namespace. */
export async function startUpstream(tb: Testbed, node: NodeName, address: string, port = 53): Promise<NsProcess> {
  const proc = tb.spawn(node, process.execPath, [UPSTREAM, address, String(port)]);
  await proc.ready('listening', 10_000);
  return proc;
}
