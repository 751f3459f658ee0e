// What a worker counts at its clients: deliveries, frame bytes, latency, and each receiver's
// position in every publisher's stream, to check that nothing was lost, duplicated or reordered.
import * as hdr from 'hdr-histogram-js';
import type { Mark, Verdict } from '../lib/api.js';
import { nowMs } from '../lib/marker.js';

/** One receiver's expected next counter per publisher slot of its channel. */
export class Streams {
  readonly expected: Uint32Array;
  /** Counters jumped over (lost, unless they come later, which `outOfOrder` then counts). */
  skipped = 0;
  /** Counters seen again or after a later one. */
  outOfOrder = 0;
  /** Frames naming a slot this channel does not have. */
  unknownSlot = 0;

  constructor(slots: number) {
    this.expected = new Uint32Array(slots);
  }

  receive(slot: number, seq: number): void {
    if (slot >= this.expected.length) {
      this.unknownSlot++;
      return;
    }
    const expected = this.expected[slot];
    if (seq === expected) {
      this.expected[slot] = seq + 1;
    } else if (seq > expected) {
      this.skipped += seq - expected;
      this.expected[slot] = seq + 1;
    } else {
      this.outOfOrder++;
    }
  }
}

export class Tally {
  received = 0;
  frameBytes = 0;
  private recording = false;
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000 });

  /** Counts one delivered message; its latency only between a mark that reset the histogram and the next. */
  delivered(frameBytes: number, latencyUs: number): void {
    this.received++;
    this.frameBytes += frameBytes;
    if (this.recording) this.histogram.recordValue(latencyUs < 1 ? 1 : latencyUs);
  }

  mark(resetHistogram: boolean, takeHistogram: boolean): Mark {
    const at = nowMs();
    const histogram = takeHistogram ? hdr.encodeIntoCompressedBase64(this.histogram) : null;
    if (resetHistogram) {
      this.histogram.reset();
      this.recording = true;
    }
    return { at, received: this.received, frameBytes: this.frameBytes, histogram };
  }

  reset(): void {
    this.received = 0;
    this.frameBytes = 0;
    this.recording = false;
    this.histogram.reset();
  }
}

/** Sent counts per channel and slot, as the publishers reported them. */
export type SentTable = Map<string, Uint32Array>;

/** True when `streams` has caught up with everything sent on its channel. */
export function caughtUp(streams: Streams, sent: Uint32Array | undefined): boolean {
  if (sent === undefined) return true;
  for (let slot = 0; slot < sent.length; slot++) if ((streams.expected[slot] ?? 0) < sent[slot]) return false;
  return true;
}

export function judge(receivers: ReadonlyArray<{ streams: Streams; channel: string; closed: boolean }>, sent: SentTable): Verdict {
  const verdict: Verdict = { clients: receivers.length, missing: 0, duplicates: 0, unexpected: 0, closed: 0 };
  for (const { streams, channel, closed } of receivers) {
    if (closed) verdict.closed++;
    verdict.missing += streams.skipped;
    verdict.duplicates += streams.outOfOrder;
    verdict.unexpected += streams.unknownSlot;
    const counts = sent.get(channel);
    for (let slot = 0; slot < streams.expected.length; slot++) {
      const want = counts?.[slot] ?? 0;
      const got = streams.expected[slot];
      if (got < want) verdict.missing += want - got;
      else if (got > want) verdict.unexpected += got - want;
    }
  }
  return verdict;
}
