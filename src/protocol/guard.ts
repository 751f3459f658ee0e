import type { Logger } from '../log.js';

/**
 * Runs async work started for one connection so that a failure in it costs that connection, never
 * the process: the failure is logged once (`failed ${what}`, with what `context` says at the
 * time), then `fail` ends the connection. Every async continuation of a connection, from the
 * upgrade to its close, goes through here. `work` starts at once, as if called directly.
 */
export function guard(log: Logger, what: string, context: () => Record<string, unknown>, work: () => Promise<void>, fail: () => void): void {
  (async () => work())()
    .catch((err: unknown) => {
      log.error({ err, ...context() }, `failed ${what}`);
      fail();
    })
    .catch((err: unknown) => log.error({ err, ...context() }, `failed to end the connection after failing ${what}`));
}
