// Measures the longest event-loop stall: a 1 ms timer re-armed on every turn records the
// largest gap between two of its runs (so an idle loop reads about 1 ms).

export class StallProbe {
  private last = performance.now();
  private longest = 0;
  private timer: NodeJS.Timeout;

  constructor() {
    this.timer = setTimeout(() => this.tick(), 1);
  }

  /** Stops the probe and returns the longest gap in milliseconds. */
  stop(): number {
    clearTimeout(this.timer);
    this.tick(false);
    return this.longest;
  }

  private tick(rearm = true): void {
    const now = performance.now();
    this.longest = Math.max(this.longest, now - this.last);
    this.last = now;
    if (rearm) this.timer = setTimeout(() => this.tick(), 1);
  }
}
