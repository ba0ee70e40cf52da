// Paths into the repository and temp-file helpers for tests. Works from dist/test/support (compiled) and
// from test/support (run from source), because the repo root is found by walking up to package.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { findPackageRoot } from '../../src/util/package-root.js';


/** Absolute path of the repository (the directory holding realmgw's package.json). */
export const REPO_ROOT: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findPackageRoot(here);
  if (!root) throw new Error(`realmgw repository root not found above ${here}`);
  return root;
})();
/** Compiled output directory (tsc outDir). */
export const DIST_DIR: string = join(REPO_ROOT, 'dist');
/** The built CLI (`realmgw` bin): dist/src/cli/main.js. Run it as `node CLI_PATH ...`. */
export const CLI_PATH: string = join(DIST_DIR, 'src', 'cli', 'main.js');
/** orchestration/netns/testbed.sh (up|down|status, prefix from RGW_PREFIX). */
export const TESTBED_SCRIPT: string = join(REPO_ROOT, 'orchestration', 'netns', 'testbed.sh');
/** Repository folders of sample data, for tests that load the shipped files. */
export const POLICIES_DIR: string = join(REPO_ROOT, 'policies');
export const ZONES_DIR: string = join(REPO_ROOT, 'zones');

/**
 * A suggested `{ timeout }` for end-to-end tests. test/run.sh's --test-timeout is a generous bound for a
 * whole file's worth of work, so tests that may hang should pass their own, shorter timeout.
 */
export const E2E_TIMEOUT_MS = 60_000;

/** `{ cmd, args }` that runs the built CLI with the current node binary, for Testbed.spawn/exec. */
/** RGW_CLI_NODE_ARGS: extra node options for the CLI processes tests and benches start (e.g. --cpu-prof). */
export function cliCommand(args: readonly string[] = []): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: [...(process.env.RGW_CLI_NODE_ARGS?.split(' ').filter(Boolean) ?? []), CLI_PATH, ...args] };
}

let sessionDir: string | undefined;

/**
 * A per-process temp directory (under os.tmpdir(), named realmgw-test-*), removed when the process exits
 * unless RGW_KEEP_TMP=1. Every helper below writes into it.
 */
export function testTmpDir(): string {
  if (sessionDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'realmgw-test-'));
    sessionDir = dir;
    process.on('exit', () => {
      if (process.env.RGW_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
    });
  }
  return sessionDir;
}

let counter = 0;

/** A fresh, empty directory inside testTmpDir(). */
export async function makeTempDir(name = 'dir'): Promise<string> {
  const dir = join(testTmpDir(), `${name}-${++counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Write a YAML file and return its absolute path. `content` is either YAML text (written as is) or a value
 * serialised with the `yaml` package. `opts.dir` writes into that directory (e.g. a subscriber folder from
 * makeTempDir()); `opts.name` sets the file name (default config-N.yaml).
 */
export async function writeTempYaml(
  content: string | unknown,
  opts: { name?: string; dir?: string } = {},
): Promise<string> {
  const dir = opts.dir ?? testTmpDir();
  const file = resolve(dir, opts.name ?? `config-${++counter}.yaml`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, typeof content === 'string' ? content : stringify(content), 'utf8');
  return file;
}

/** Write any text file into testTmpDir() (or opts.dir) and return its absolute path. */
export async function writeTempFile(name: string, content: string | Uint8Array, opts: { dir?: string } = {}): Promise<string> {
  const file = resolve(opts.dir ?? testTmpDir(), name);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}
