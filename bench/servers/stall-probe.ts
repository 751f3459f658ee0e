// Measures event-loop stalls: a 1 ms timer re-armed on every turn records the largest gap
// between two of its runs (so an idle loop reads about 1 ms) and counts the gaps of 50 ms or more.
import type { Stall } from '../lib/api.js';

const LONG_MS = 50;

export class StallProbe {
  private last = performance.now();
  private longest = 0;
  private long = 0;
  private timer: NodeJS.Timeout;

  constructor() {
    this.timer = setTimeout(() => this.tick(), 1);
  }

  /** Stops the probe and returns what it saw. */
  stop(): Stall {
    clearTimeout(this.timer);
    this.tick(false);
    return { longestMs: this.longest, over50: this.long };
  }

  private tick(rearm = true): void {
    const now = performance.now();
    const gap = now - this.last;
    this.longest = Math.max(this.longest, gap);
    if (gap >= LONG_MS) this.long++;
    this.last = now;
    if (rearm) this.timer = setTimeout(() => this.tick(), 1);
  }
}
