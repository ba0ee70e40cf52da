/**
 * The project's native addon (kernel/nfqueue): one shared object for both kernel bindings realmgw needs in
 * process — the NFQUEUE consumer (nfqueue.ts) and libnftables (nft.ts, NftChannel).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPackageRoot } from '../util/package-root.js';

const ADDON_RELATIVE = join('kernel', 'nfqueue', 'build', 'Release', 'nfqueue.node');

/**
 * Absolute path of the addon: $RGW_NFQUEUE_ADDON when set, else kernel/nfqueue/build/Release/nfqueue.node
 * under the realmgw package root (found from this file, compiled or not).
 */
export function nfqueueAddonPath(): string {
  const override = process.env.RGW_NFQUEUE_ADDON;
  if (override) return override;
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  if (root === undefined) throw new Error('realmgw package root not found (looking for the native addon)');
  return join(root, ADDON_RELATIVE);
}

let addon: unknown;

/** Loads the addon on first use (importing a module that uses it never needs it). */
export function loadNativeAddon<T>(): T {
  if (addon) return addon as T;
  const path = nfqueueAddonPath();
  if (!existsSync(path)) {
    throw new Error(
      `native addon not built (${path} is missing). It is built by \`npm ci\` / \`npm run build:addon\`, ` +
        'which need libnetfilter-queue-dev, libmnl-dev and libnftables-dev (orchestration/install-deps.sh installs them).',
    );
  }
  addon = createRequire(path)(path);
  return addon as T;
}
