// Runs one side of STUN inside a network namespace for nat.test.ts (ip netns exec NS node ns-agent.js ...):
//   server '<StunServerOptions as JSON, without logger>'  prints {"ready":[endpoints]} then serves until SIGTERM
//   discover '<DiscoverOptions as JSON>'                   prints the NatDiscovery as one JSON line and exits
// Without arguments it does nothing (so a test runner that loads it by mistake is unharmed).
import { pino } from 'pino';
import { discoverNat, type DiscoverOptions } from '../../src/stun/discover.js';
import { StunServer, type StunServerOptions } from '../../src/stun/server.js';

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  if (!mode || !json) return;
  if (mode === 'server') {
    const opts = JSON.parse(json) as Omit<StunServerOptions, 'logger'>;
    const server = new StunServer({ ...opts, logger: pino({ level: 'warn' }, process.stderr) });
    await server.start();
    process.stdout.write(`${JSON.stringify({ ready: server.endpoints() })}\n`);
    const stop = () => void server.stop().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
  }
  if (mode === 'discover') {
    const result = await discoverNat(JSON.parse(json) as DiscoverOptions);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`ns-agent: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
