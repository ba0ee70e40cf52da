/**
 * The worker agent's config file (YAML, strict like the gateway's: an unknown key is an error, reported as
 * file:line: key.path: reason). The secret comes inline or, better, from a file next to the config; it is never
 * echoed in a problem.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseYaml, lineOf, readConfigFile, schemaProblems, yamlData } from '../config/load-config.js';
import { InputError, type Problem } from '../errors.js';
import { isIpv4 } from '../util/ipv4.js';

const ipv4 = z.string().refine(isIpv4, { message: 'must be a dotted-quad IPv4 address' });
const port = z.number().int().min(1).max(65535);
const millis = z.number().int().positive();

export const workerConfigSchema = z.strictObject({
  /** The worker's name as the gateway's config lists it (a DNS label). */
  name: z.string().min(1),
  /** The gateway's registration API, on the private network. */
  gateway: z.strictObject({ address: ipv4, port: port.default(4780) }),
  secret: z.string().min(1).optional(),
  /** File holding the secret (first line), relative to this config file. */
  secretFile: z.string().min(1).optional(),
  services: z.array(z.strictObject({ port, protocol: z.enum(['tcp', 'udp']) })).min(1),
  stun: z
    .strictObject({
      servers: z.array(z.strictObject({ address: z.string().min(1), port: port.default(3478) })).min(1),
      /** Discovery again this often; a changed NAT is re-registered so the gateway's view stays true. */
      intervalMs: millis.default(300_000),
      timeoutMs: millis.default(2000),
      retries: z.number().int().min(0).max(6).default(2),
    })
    .optional(),
  /** Heartbeat interval; default: what the gateway asks for. */
  heartbeatMs: millis.optional(),
  /** Backoff while the gateway cannot be reached; `--once` gives up after giveUpMs. */
  retry: z
    .strictObject({ initialMs: millis.default(500), maxMs: millis.default(30_000), giveUpMs: millis.default(30_000) })
    .default({ initialMs: 500, maxMs: 30_000, giveUpMs: 30_000 }),
  requestTimeoutMs: millis.default(5000),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).default({ level: 'info' }),
});

type Parsed = z.output<typeof workerConfigSchema>;

export interface WorkerAgentConfig extends Omit<Parsed, 'secret' | 'secretFile'> {
  file: string;
  secret: string;
}

export function loadWorkerConfig(file: string): WorkerAgentConfig {
  const { abs, text } = readConfigFile(file);
  return parseWorkerConfigText(text, abs);
}

export function parseWorkerConfigText(text: string, abs: string): WorkerAgentConfig {
  const { doc, lines, problems } = parseYaml(text, abs);
  if (problems.length) throw new InputError(problems);
  const parsed = workerConfigSchema.safeParse(yamlData(doc, abs));
  if (!parsed.success) throw new InputError(schemaProblems(parsed.error.issues, doc, lines, abs));
  const { secret: inline, secretFile, ...rest } = parsed.data;
  const problem = (keyPath: string[], reason: string): Problem => ({ file: abs, path: keyPath, line: lineOf(doc, lines, keyPath), reason });
  if ((inline === undefined) === (secretFile === undefined)) {
    throw new InputError([problem(inline === undefined ? [] : ['secretFile'], 'give exactly one of secret and secretFile')]);
  }
  let secret = inline;
  if (secretFile !== undefined) {
    const from = path.resolve(path.dirname(abs), secretFile);
    try {
      secret = readFileSync(from, 'utf8').split('\n')[0].trim();
    } catch (err) {
      throw new InputError([problem(['secretFile'], `cannot read ${from}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)]);
    }
    if (secret === '') throw new InputError([problem(['secretFile'], `${from} is empty`)]);
  }
  return { ...rest, file: abs, secret: secret! };
}
