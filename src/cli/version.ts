/** `realmgw --version`: the package's version (package.json, found from here) and the Node.js that runs it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPackageRoot } from '../util/package-root.js';

export function packageVersion(): string {
  const root = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
  if (!root) return 'unknown';
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export function versionLine(): string {
  return `realmgw ${packageVersion()} (node ${process.version})`;
}
