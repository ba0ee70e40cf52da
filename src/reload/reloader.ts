/**
 * `realmgw reload`, SIGHUP and the admin socket's POST /reload: compile the files again (the full check),
 * decide (plan.ts), hand the new compilation to the running gateway, count the outcome. A bad input or a
 * refused change leaves the gateway exactly as it was and says why; one reload runs at a time (a second
 * waits for the first and then reads the files again).
 */
import { compile } from '../compile/compile.js';
import type { CompiledGateway, CompiledPart } from '../compile/compiled-gateway.js';
import { formatProblem, InputError } from '../errors.js';
import { errorMessage } from '../errors/realmgw-error.js';
import type { Logger } from '../log.js';
import type { OperatorCounters } from '../ops/operator-counters.js';
import { planReload } from './plan.js';

export interface ReloadResult {
  ok: boolean;
  /** reloaded: applied; unchanged: the files compile to the running gateway; invalid: the check failed;
   * refused: a setting needs a restart; failed: applying went wrong (the old state keeps serving). */
  outcome: 'reloaded' | 'unchanged' | 'invalid' | 'refused' | 'failed';
  changed: CompiledPart[];
  /** `file:line: key.path: reason`, or the failure. */
  problems: string[];
  /** nft operations of the kernel update (empty when the kernel did not change). */
  kernel: string[];
}

/** What the reloader needs of the running gateway. */
export interface Reloadable {
  readonly compiled: CompiledGateway;
  /** Switch to `next` (already checked and planned); returns the kernel operations. Throws: nothing switched. */
  applyReload(next: CompiledGateway, changed: CompiledPart[]): Promise<string[]>;
}

export class Reloader {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly target: Reloadable,
    private readonly counters: OperatorCounters,
    private readonly log: Logger,
    private readonly compileFiles: (configFile: string) => CompiledGateway = compile,
    private readonly wallSeconds: () => number = () => Date.now() / 1000,
  ) {}

  reload(): Promise<ReloadResult> {
    const run = this.tail.then(() => this.once());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async once(): Promise<ReloadResult> {
    const result = await this.attempt();
    const c = this.counters.reloads;
    if (result.outcome === 'reloaded') c.succeeded++;
    else if (result.outcome === 'unchanged') c.unchanged++;
    else c.failed++;
    if (result.ok) this.counters.lastReloadSuccessSeconds = this.wallSeconds();
    const fields = { outcome: result.outcome, changed: result.changed, problems: result.problems, kernel: result.kernel };
    if (result.ok) this.log.info(fields, 'reload');
    else this.log.warn({ code: 'RGW_RELOAD_REFUSED', ...fields }, errorMessage('RGW_RELOAD_REFUSED', { outcome: result.outcome, count: result.problems.length }));
    return result;
  }

  private async attempt(): Promise<ReloadResult> {
    const none = { changed: [] as CompiledPart[], kernel: [] as string[] };
    let next: CompiledGateway;
    try {
      next = this.compileFiles(this.target.compiled.config.file);
    } catch (err) {
      if (err instanceof InputError) return { ok: false, outcome: 'invalid', ...none, problems: err.problems.map(formatProblem) };
      return { ok: false, outcome: 'invalid', ...none, problems: [(err as Error).message] };
    }
    // as `run` does at start: the files mean what they say, minus the keys these name
    for (const w of next.policies.warnings) this.log.warn(w, 'policy warning');
    let plan;
    try {
      plan = planReload(this.target.compiled, next);
    } catch (err) {
      return { ok: false, outcome: 'refused', ...none, problems: [(err as Error).message] };
    }
    if (plan.kind === 'unchanged') return { ok: true, outcome: 'unchanged', ...none, problems: [] };
    if (plan.kind === 'refused') return { ok: false, outcome: 'refused', ...none, problems: plan.problems.map(formatProblem) };
    try {
      const kernel = await this.target.applyReload(plan.next, plan.changed);
      return { ok: true, outcome: 'reloaded', changed: plan.changed, kernel, problems: [] };
    } catch (err) {
      return { ok: false, outcome: 'failed', changed: plan.changed, kernel: [], problems: [(err as Error).message] };
    }
  }
}
