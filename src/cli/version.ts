/** `realmgw --version`: the package's version (package.json) and the Node.js that runs it. */
import { realmgwVersion } from '../util/version.js';

export function versionLine(): string {
  return `realmgw ${realmgwVersion()} (node ${process.version})`;
}
