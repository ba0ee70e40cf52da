// Waiting for an event instead of sleeping for a guessed time: polls `check` until it holds. The deadline only
// turns a hang into a readable failure; it is not what the test asserts, so it is generous.
import { setTimeout as sleep } from 'node:timers/promises';

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}
