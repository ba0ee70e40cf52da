/**
 * `realmgw secret [--name NAME] [--json]`: a new worker secret and the line the gateway's config takes for it.
 * The secret goes to the worker only; the gateway keeps just the salted hash (workers/secret.ts), so a leaked
 * gateway config registers no worker. Printing both at once is the one moment both exist together.
 */
import { generateSecret, hashSecret } from '../workers/secret.js';
import { isWorkerName } from '../workers/config.js';
import { commandUsage } from './args.js';
import { stdout } from './command.js';

export interface NewSecret {
  /** Absent when no --name was given: the printed lines then say WORKER where the name goes. */
  name?: string;
  secret: string;
  secretHash: string;
}

export function newSecret(name?: string): NewSecret {
  const secret = generateSecret();
  return { ...(name === undefined ? {} : { name }), secret, secretHash: hashSecret(secret) };
}

/** The human form: the secret, where it goes, and the config line (YAML) for the gateway. */
export function formatSecret(s: NewSecret): string {
  const name = s.name ?? 'WORKER';
  return [
    `secret: ${s.secret}`,
    `secretHash: ${s.secretHash}`,
    '',
    `# The secret belongs on the worker only, in a file only the agent's user can read (mode 0600, e.g.`,
    `# /etc/realmgw/${name}.secret), named by the worker's config: secretFile: ${name}.secret (relative to it).`,
    `# The gateway's config takes the hash only, under workers.workers:`,
    `    - { name: ${name}, secretHash: "${s.secretHash}" }`,
    '',
  ].join('\n');
}

export async function secretCommand(name: string | undefined, json: boolean, out: (text: string) => void = stdout): Promise<number> {
  if (name !== undefined && !isWorkerName(name)) commandUsage('secret', `--name '${name}' is not a worker name (a DNS label: a-z, 0-9, '-', at most 63)`);
  const s = newSecret(name);
  out(json ? `${JSON.stringify(s)}\n` : formatSecret(s));
  return 0;
}
