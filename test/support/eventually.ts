import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits until a condition on server state holds, checking every few milliseconds. For state the
 * server changes without telling the client (a close it has not processed yet); fails after `ms`.
 */
export async function eventually(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}
