/**
 * The registry's state file: versioned JSON, written atomically (temporary file in the same directory, fsync,
 * rename over the old file, fsync of the directory), so a crash leaves the old file or the new one, never a mix.
 * A file that is not JSON, not ours, of another version or inconsistent is a StateFileError; a missing file
 * is `undefined` (first start). Nothing is discarded silently: the caller decides.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StateFileError } from './errors.js';
import { type RegistryState, stateProblems } from './state.js';

export const STATE_FORMAT = 'realmgw-workers-state';
export const STATE_VERSION = 1;
const MAX_LISTED = 5;

export function encodeState(state: RegistryState): string {
  const problems = stateProblems(state);
  if (problems.length > 0) throw new Error(`refusing to save an inconsistent registry state: ${problems.join('; ')}`);
  const { registrations, coolDowns } = state;
  return `${JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, registrations, coolDowns }, null, 1)}\n`;
}

/** Parses and checks a state file's text; `file` names it in errors. */
export function decodeState(text: string, file: string): RegistryState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new StateFileError('RGW_STATE_CORRUPT', file, `not JSON (${(e as Error).message})`, { cause: e });
  }
  const doc = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  if (doc.format !== STATE_FORMAT) {
    throw new StateFileError('RGW_STATE_CORRUPT', file, `not a realmgw workers state file (format ${JSON.stringify(doc.format ?? null)})`);
  }
  if (doc.version !== STATE_VERSION) {
    throw new StateFileError(
      'RGW_STATE_VERSION',
      file,
      `state format version ${JSON.stringify(doc.version ?? null)}; this realmgw reads version ${STATE_VERSION}`,
    );
  }
  const problems = stateProblems(doc);
  if (problems.length > 0) {
    const more = problems.length > MAX_LISTED ? `; … (${problems.length} problems)` : '';
    throw new StateFileError('RGW_STATE_CORRUPT', file, `inconsistent: ${problems.slice(0, MAX_LISTED).join('; ')}${more}`);
  }
  const state = doc as unknown as RegistryState;
  // Known fields only, so what a restore sees is exactly what the format defines.
  return {
    registrations: state.registrations.map((r) => ({
      worker: r.worker,
      address: r.address,
      lastSeen: r.lastSeen,
      leases: r.leases.map((l) => ({ protocol: l.protocol, port: l.port, publicPort: l.publicPort })),
    })),
    coolDowns: state.coolDowns.map((c) => ({ protocol: c.protocol, publicPort: c.publicPort, until: c.until })),
  };
}

/** The saved state, or undefined when the file does not exist. */
export async function readStateFile(path: string): Promise<RegistryState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError('RGW_STATE_IO', path, `cannot read (${(e as Error).message})`, { cause: e });
  }
  return decodeState(text, path);
}

/** Replaces the file with `state` atomically and durably (mode 0600). */
export async function writeStateFile(path: string, state: RegistryState): Promise<void> {
  await writeTextAtomically(path, encodeState(state));
}

async function writeTextAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch (e) {
    await rm(tmp, { force: true });
    throw new StateFileError('RGW_STATE_IO', path, `cannot write (${(e as Error).message})`, { cause: e });
  }
}

/**
 * Serialises saves to one file: writes never overlap, and a save issued while one is running is coalesced
 * with later ones (only the newest state is written). The promise settles once a write containing that state
 * or a newer one has finished; it rejects when that write failed (the next save writes the newest state).
 */
export class StateWriter {
  private pending: string | undefined;
  private running: Promise<void> | undefined;

  constructor(readonly path: string) {}

  save(state: RegistryState): Promise<void> {
    this.pending = encodeState(state);
    this.running ??= this.drain();
    return this.running;
  }

  /** Settles when nothing is being written. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => {});
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending !== undefined) {
        const text = this.pending;
        this.pending = undefined;
        await writeTextAtomically(this.path, text);
      }
    } finally {
      // Same synchronous step as the last check of `pending`: a later save() starts a new drain.
      this.running = undefined;
    }
  }
}
