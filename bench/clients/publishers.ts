// How a worker's publishing members send: as far as the harness's credit allows, or at a fixed rate.
import { makeMessage } from '../lib/marker.js';
import type { SentCount } from '../lib/api.js';
import type { BenchClient } from './client.js';

export class Publisher {
  sent = 0;

  constructor(private readonly client: BenchClient, private readonly messageLength: number) {}

  publishNext(): void {
    this.client.publish(makeMessage(this.client.member.slot, this.sent, this.messageLength));
    this.sent++;
  }

  count(): SentCount {
    return { channel: this.client.member.channel, slot: this.client.member.slot, sent: this.sent };
  }
}

/** Credit-based: each publisher may send while its counter is below the credit the harness granted. */
export function publishUpTo(publishers: readonly Publisher[], credit: number): void {
  for (const publisher of publishers) while (publisher.sent < credit) publisher.publishNext();
}

/**
 * A fixed rate per publisher, phases spread evenly: publication k is due at start + k * step
 * and goes to publisher k mod n, so the schedule does not drift and costs O(1) per message.
 */
export class RateSchedule {
  private readonly start = performance.now();
  private readonly stepMs: number;
  private next = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly publishers: readonly Publisher[], perPublisherHz: number) {
    this.stepMs = 1000 / (perPublisherHz * publishers.length);
    if (publishers.length > 0) this.tick();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const now = performance.now();
    while (this.start + this.next * this.stepMs <= now) {
      this.publishers[this.next % this.publishers.length].publishNext();
      this.next++;
    }
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.start + this.next * this.stepMs - performance.now()));
  }
}
