/** What the heartbeat pings: a WebSocket, and whether it answered the last ping. */
export interface Pingable {
  alive: boolean;
  /** When it was last pinged (ms); the heartbeat's own. */
  pingedAt: number;
  readonly link: { terminate(): void };
}

/** How often the heartbeat takes its next slice of the connections, in ms. */
const SLICE_EVERY = 50;

/**
 * Pings every connection once each interval; a connection that has not answered its previous
 * ping within an interval is terminated, which ends it like any other close (its channel gets the leave). One timer
 * for the whole server, not one per connection, and the round is spread over the interval in
 * slices (one every 50 ms), so that 18,000 connections never cost the event loop one long tick.
 * `ping` queues the ping itself (the server's outbox writes it with the connection's other frames).
 */
export class Heartbeat<P extends Pingable = Pingable> {
  private timer: NodeJS.Timeout | null = null;
  /** The slices a round is spread over. */
  readonly slices: number;
  /** This round's connections, taken when it began, and how far through them it is. */
  private round: P[] = [];
  private next = 0;
  private slice = 0;

  constructor(
    private readonly interval: number,
    private readonly members: Iterable<P>,
    private readonly ping: (member: P) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.slices = Math.max(1, Math.floor(interval / SLICE_EVERY));
  }

  start(): void {
    this.timer ??= setInterval(() => this.step(), this.interval / this.slices);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes the next slice of the round: the first slice of a round takes the connections there are now. */
  step(): void {
    if (this.slice === 0) {
      this.round = [...this.members];
      this.next = 0;
    }
    this.slice += 1;
    const end = this.slice === this.slices ? this.round.length : Math.ceil((this.round.length * this.slice) / this.slices);
    const now = this.clock();
    for (; this.next < end; this.next += 1) {
      const member = this.round[this.next];
      if (!member.alive) {
        // A member moves up the round as those before it leave: it gets a whole interval to answer.
        if (now - member.pingedAt >= this.interval) member.link.terminate();
        continue;
      }
      member.alive = false;
      member.pingedAt = now;
      this.ping(member);
    }
    if (this.slice === this.slices) {
      this.slice = 0;
      this.round = [];
    }
  }
}
