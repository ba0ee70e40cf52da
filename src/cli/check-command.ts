/**
 * `realmgw check --config FILE [--json]`: compiles config, zones and policies exactly as `run` would and
 * reports, changing nothing. `--json` is for programs (CI, config management): one object on stdout whatever
 * the outcome, problems and warnings with file, line and key path as fields rather than one formatted line.
 */
import path from 'node:path';
import { compile } from '../compile/compile.js';
import type { CompiledGateway } from '../compile/compiled-gateway.js';
import { InputError, formatPath, formatProblem, type Problem } from '../errors.js';
import { RealmgwError } from '../errors/realmgw-error.js';
import { stdout } from './command.js';

export interface ProblemJson {
  file: string;
  line: number | null;
  /** The key path as the text form prints it (`"hosta.gwa.demo.".SFQDN[4].protcol`); `path` has its parts. */
  key: string;
  path: (string | number)[];
  reason: string;
}

export interface CheckResult {
  ok: boolean;
  config: string;
  /** What the files define; absent when they do not compile. */
  counts?: { zones: number; hosts: number; services: number; poolAddresses: number };
  warnings: ProblemJson[];
  problems: ProblemJson[];
}

export const problemJson = (p: Problem): ProblemJson => ({ file: p.file, line: p.line ?? null, key: formatPath(p.path), path: p.path, reason: p.reason });

export function checkResult(compiled: CompiledGateway): CheckResult {
  const { config, zones, policies } = compiled;
  const services = [...policies.hosts.values()].reduce((n, h) => n + h.services.length, 0);
  return {
    ok: true,
    config: config.file,
    counts: { zones: zones.length, hosts: policies.hosts.size, services, poolAddresses: config.poolAddresses.length },
    warnings: policies.warnings.map(problemJson),
    problems: [],
  };
}

export async function checkCommand(file: string, json: boolean, out: (text: string) => void = stdout): Promise<number> {
  let compiled: CompiledGateway;
  try {
    compiled = compile(file);
  } catch (err) {
    if (!json || !(err instanceof InputError)) throw err;
    const result: CheckResult = { ok: false, config: path.resolve(file), warnings: [], problems: err.problems.map(problemJson) };
    out(`${JSON.stringify(result, null, 2)}\n`);
    // stderr still ends with the catalogue's line, and the exit status is the text form's
    throw new RealmgwError('RGW_INVALID_INPUT', { count: err.problems.length });
  }
  const result = checkResult(compiled);
  if (json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  // Warnings do not fail the check: the files mean what they say, minus the keys named here.
  for (const w of compiled.policies.warnings) process.stderr.write(`warning: ${formatProblem(w)}\n`);
  const c = result.counts!;
  out(`ok: ${result.config}: ${c.zones} zones, ${c.hosts} hosts, ${c.services} service names, ${c.poolAddresses} pool addresses\n`);
  return 0;
}
