// The worker agent against a real gateway side on loopback (API server + service + recording backend): config
// loading, registration, heartbeats, re-registration after a gateway restart, STUN outcomes, refusals, and the
// CLI (`realmgw worker`) spawned from dist/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError, formatProblem } from '../../src/errors.js';
import { PermanentRefusal, WorkerAgent } from '../../src/worker-agent/agent.js';
import { loadWorkerConfig, parseWorkerConfigText, type WorkerAgentConfig } from '../../src/worker-agent/config.js';
import { memoryLogger } from '../stun/support.js';
import { StunServer } from '../../src/stun/server.js';
import { CLI_PATH, makeTempDir, writeTempFile } from '../support/repo.js';
import { secretOf } from '../workers/support.js';
import { startGatewaySide, type GatewaySide } from './support.js';

function agentConfig(gw: { port: number }, over: Partial<WorkerAgentConfig> = {}): WorkerAgentConfig {
  return {
    file: '/dev/null',
    name: 'w1',
    gateway: { address: '127.0.0.1', port: gw.port },
    secret: secretOf('w1'),
    services: [
      { port: 10053, protocol: 'tcp' },
      { port: 10053, protocol: 'udp' },
    ],
    heartbeatMs: 50,
    retry: { initialMs: 20, maxMs: 100, giveUpMs: 2000 },
    requestTimeoutMs: 1000,
    log: { level: 'debug' },
    ...over,
  };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function runAgent(t: TestContext, config: WorkerAgentConfig, opts: ConstructorParameters<typeof WorkerAgent>[2] = {}) {
  const { logger, lines } = memoryLogger();
  const agent = new WorkerAgent(config, logger, opts);
  const done = agent.run();
  t.after(async () => {
    agent.stop();
    await done.catch(() => {});
  });
  return { agent, done, lines };
}

test('worker config: secret from a file next to it; problems with file:line and key path; secrets never echoed', async () => {
  const dir = await makeTempDir('agent-config');
  await writeTempFile('w1.secret', `${secretOf('w1')}\n`, { dir });
  const yaml = `name: w1\ngateway: { address: 10.77.0.1 }\nsecretFile: w1.secret\nservices:\n  - { port: 10053, protocol: tcp }\nstun:\n  servers: [{ address: 10.77.0.1 }]\n`;
  const c = loadWorkerConfig(await writeTempFile('w1.yaml', yaml, { dir }));
  assert.equal(c.secret, secretOf('w1'));
  assert.deepEqual(c.gateway, { address: '10.77.0.1', port: 4780 });
  assert.deepEqual(c.stun, { servers: [{ address: '10.77.0.1', port: 3478 }], intervalMs: 300_000, timeoutMs: 2000, retries: 2 });

  const problems = (text: string) => {
    try {
      parseWorkerConfigText(text, join(dir, 'bad.yaml'));
    } catch (err) {
      if (err instanceof InputError) return err.problems.map(formatProblem).join('\n');
      throw err;
    }
    return '';
  };
  assert.match(problems(yaml.replace('protocol: tcp', 'protocol: sctp')), /bad\.yaml:5: services\[0\]\.protocol: /);
  assert.match(problems(yaml.replace('name: w1', 'name: w1\nheartbeatMS: 5')), /bad\.yaml:2: heartbeatMS: .*[Uu]nrecognized key/);
  assert.match(problems(yaml.replace('secretFile: w1.secret', 'secretFile: missing.secret')), /bad\.yaml:3: secretFile: cannot read .*missing\.secret: ENOENT/);
  const both = problems(yaml.replace('secretFile: w1.secret', 'secretFile: w1.secret\nsecret: inline-secret-value-0123456789'));
  assert.match(both, /give exactly one of secret and secretFile/);
  assert.ok(!both.includes('inline-secret-value'), 'not echoed');
});

test('the agent registers, heartbeats, and deregisters when stopped', async (t) => {
  const gw = await startGatewaySide(t);
  const { agent, done, lines } = runAgent(t, agentConfig(gw));
  await until('registration', () => gw.backend.mapped.size === 2);
  // A heartbeat moves the worker's lastSeen (a wall clock: heartbeats are heartbeatMs = 50 ms apart).
  const lastSeen = () => gw.service.view().workers.find((w) => w.name === 'w1')?.lastSeen ?? 0;
  const registeredAt = lastSeen();
  await until('a heartbeat', () => lastSeen() > registeredAt);
  const firstBeat = lastSeen();
  const linesBefore = gw.lines.length;
  await until('another heartbeat', () => lastSeen() > firstBeat);
  assert.deepEqual(gw.service.view().workers.map((w) => w.name), ['w1']);
  assert.deepEqual(gw.lines.slice(linesBefore).filter((l) => l.level >= 30).map((l) => l.msg), [], 'heartbeats do not log at info');
  const registered = lines.find((l) => /^registered: /.test(l.msg));
  assert.match(String(registered?.msg), /^registered: 10053\/tcp->100\.64\.1\.130:\d+, 10053\/udp->100\.64\.1\.130:\d+$/);
  agent.stop();
  await done;
  assert.equal(gw.backend.mapped.size, 0, 'deregistered');
  assert.ok(!JSON.stringify(lines).includes(secretOf('w1')), 'the secret is not logged');
});

test('the agent registers again after the gateway restarts, with or without its state', async (t) => {
  const gw = await startGatewaySide(t);
  const { lines } = runAgent(t, agentConfig(gw));
  await until('registration', () => gw.backend.mapped.size === 2);
  const ports = gw.backend.ports();

  // Restart with the state file: the same public ports, and the agent keeps going.
  await gw.stop();
  await until('the agent sees the gateway gone and logs the outage', () => lines.some((l) => l.level === 40 && /retrying/.test(l.msg)));
  const again = await startGatewaySide(t, { port: gw.port, stateFile: gw.stateFile });
  await until('mapping restored', () => again.backend.mapped.size === 2);
  assert.deepEqual(again.backend.ports(), ports);
  await until('re-registration', () => again.lines.some((l) => /worker registered/.test(l.msg)));

  // Restart without state: the heartbeat gets 409 and the agent registers afresh.
  await again.stop();
  const fresh = await startGatewaySide(t, { port: gw.port });
  await until('fresh registration', () => fresh.backend.mapped.size === 2);
});

test('the agent re-registers on 409 not-registered (its registration expired)', async (t) => {
  const gw = await startGatewaySide(t);
  const { lines } = runAgent(t, agentConfig(gw, { heartbeatMs: 100 }));
  await until('registration', () => gw.backend.mapped.size === 2);
  const before = gw.backend.applies().length;
  await gw.service.deregister('w1', secretOf('w1'));
  assert.equal(gw.backend.mapped.size, 0);
  await until('re-registration', () => gw.backend.mapped.size === 2);
  assert.ok(gw.backend.applies().length > before);
  assert.ok(lines.some((l) => /lost our registration/.test(l.msg)));
});

test('STUN: a real server on loopback gives a result, an unreachable one is "blocked"; registration happens either way', async (t) => {
  const { logger } = memoryLogger('warn');
  const stun = new StunServer({ address: '127.0.0.1', port: 0, alternateAddress: '127.0.0.2', alternatePort: 0, logger });
  await stun.start();
  t.after(() => stun.stop());
  const primary = stun.endpoints()[0];
  const gw = await startGatewaySide(t);
  const reachable = { servers: [{ address: '127.0.0.1', port: primary.port }], intervalMs: 60_000, timeoutMs: 500, retries: 1 };
  const { agent, done } = runAgent(t, agentConfig(gw, { stun: reachable }));
  await until('registration', () => gw.backend.mapped.size === 2);
  assert.deepEqual(gw.service.view().workers[0].nat?.classic, 'open', 'loopback has no NAT');
  agent.stop();
  await done;

  const blocked = { servers: [{ address: '127.0.0.1', port: 9 }], intervalMs: 60_000, timeoutMs: 200, retries: 0 };
  const second = runAgent(t, agentConfig(gw, { stun: blocked }));
  await until('registration despite blocked STUN', () => gw.backend.mapped.size === 2);
  assert.ok(second.lines.some((l) => /NAT discovery: (blocked|unknown)/.test(l.msg)), JSON.stringify(second.lines.map((l) => l.msg)));
});

test('a refusal no retry can fix stops the agent with the reason; a passing one is retried', async (t) => {
  const gw = await startGatewaySide(t);
  const wrong = runAgent(t, agentConfig(gw, { secret: 'wrong-secret-of-w1-0123456789' }));
  await assert.rejects(wrong.done, (err: unknown) => err instanceof PermanentRefusal && err.refusal.code === 'unauthorized');

  gw.backend.failing = true;
  const { lines } = runAgent(t, agentConfig(gw));
  await until('a failed try', () => lines.some((l) => /retrying/.test(l.msg)));
  gw.backend.failing = false;
  await until('registration after the kernel recovers', () => gw.backend.mapped.size === 2);
});

function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function cliConfig(gw: GatewaySide, extra = ''): Promise<string> {
  const dir = await makeTempDir('agent-cli');
  await writeTempFile('w1.secret', secretOf('w1'), { dir });
  const yaml = `name: w1\ngateway: { address: 127.0.0.1, port: ${gw.port} }\nsecretFile: w1.secret\nheartbeatMs: 100\nservices:\n  - { port: 10053, protocol: tcp }\n  - { port: 10053, protocol: udp }\n${extra}`;
  return writeTempFile('w1.yaml', yaml, { dir });
}

test('realmgw worker (from dist/): registers, and on SIGTERM deregisters and exits 0', async (t) => {
  const gw = await startGatewaySide(t);
  const cli = spawnCli(['worker', '--config', await cliConfig(gw)]);
  t.after(() => cli.child.kill('SIGKILL'));
  await until('registration by the CLI', () => /registered: 10053\/tcp->100\.64\.1\.130:\d+/.test(cli.out()), 10_000);
  assert.equal(gw.backend.mapped.size, 2);
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0, cli.err());
  assert.equal(gw.backend.mapped.size, 0, 'deregistered on SIGTERM');
  assert.ok(!cli.out().includes(secretOf('w1')));
});

test('realmgw worker --once prints the endpoints as JSON; bad config exits 1 with file:line', async (t) => {
  const gw = await startGatewaySide(t);
  const once = spawnCli(['worker', '--once', '--config', await cliConfig(gw)]);
  assert.equal(await once.exited, 0, once.err());
  const body = JSON.parse(once.out());
  assert.equal(body.worker, 'w1');
  assert.equal(body.endpoints.length, 2);
  assert.deepEqual(body.endpoints, [...gw.backend.mapped.values()].map((l) => `${l.target.port}/${l.protocol}->100.64.1.130:${l.publicPort}`).sort());

  const bad = spawnCli(['worker', '--config', await cliConfig(gw, 'stun: { servers: [] }\n')]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.err(), /w1\.yaml:8: stun\.servers: /);

  const refused = spawnCli(['worker', '--once', '--config', await cliConfig({ ...gw, port: 9 } as GatewaySide, 'retry: { giveUpMs: 300, initialMs: 50 }\n')]);
  assert.equal(await refused.exited, 1, 'gives up when the gateway cannot be reached');
});
