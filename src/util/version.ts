import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPackageRoot } from './package-root.js';

let cached: string | undefined;

/** realmgw's version from its package.json ('unknown' when the file cannot be found), read once. */
export function realmgwVersion(): string {
  if (cached === undefined) {
    const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
    try {
      cached = root ? String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown') : 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
