/** Reconnection delays: exponential, capped, with jitter so that clients dropped together do not return together. */
export interface BackoffOptions {
  /** The first delay's ceiling, in ms. */
  minDelay: number;
  /** No delay exceeds this, in ms. */
  maxDelay: number;
}

/**
 * The delay before reconnection attempt `attempt` (0 for the first retry): a random value between
 * half and all of min(maxDelay, minDelay * 2^attempt) ("equal jitter"), so it grows with every
 * failure yet never falls to zero. `random` is Math.random unless a test gives its own.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelay, options.minDelay * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
