/** The token bucket a connection draws one token from per frame. */
export interface Bucket {
  tokens: number;
  /** When tokens were last refilled, in ms. */
  refilled: number;
  /** Frames refused in a row since the bucket ran dry. */
  strikes: number;
}

/** What to do with a frame: handle it, refuse it (telling the client once), or close a flooder. */
export type Verdict = { act: 'pass' } | { act: 'refuse'; warn: boolean; retryAfterMs: number } | { act: 'close' };

const PASS: Verdict = { act: 'pass' };

/**
 * Per-connection rate limit: `rate` frames a second on average with bursts of `burst`. A client
 * over it hears `rate_limited` once; one that sends another `burst` frames regardless is closed.
 */
export class RateLimit {
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  get enabled(): boolean {
    return this.rate > 0;
  }

  fresh(now: number): Bucket {
    return { tokens: this.burst, refilled: now, strikes: 0 };
  }

  take(bucket: Bucket, now: number): Verdict {
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.refilled) * this.rate) / 1000);
    bucket.refilled = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.strikes = 0;
      return PASS;
    }
    bucket.strikes += 1;
    if (bucket.strikes > this.burst) return { act: 'close' };
    return { act: 'refuse', warn: bucket.strikes === 1, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.rate) };
  }
}
