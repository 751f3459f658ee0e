/** What the heartbeat pings: a WebSocket, and whether it answered the last ping. */
export interface Pingable {
  alive: boolean;
  readonly ws: { ping(): void; terminate(): void };
}

/**
 * Pings every connection each interval; a connection that has not answered the previous ping is
 * terminated, which ends it like any other close (its channel gets the leave). One timer for the
 * whole server, not one per connection.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly interval: number,
    private readonly members: Iterable<Pingable>,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.beat(), this.interval);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private beat(): void {
    for (const member of this.members) {
      if (!member.alive) {
        member.ws.terminate();
        continue;
      }
      member.alive = false;
      member.ws.ping();
    }
  }
}
