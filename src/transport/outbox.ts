import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/** What the outbox writes to: a socket, the WebSocket over it, and the frames queued for it. */
export interface Recipient {
  /** Frames queued for the next flush: none, one, or several in order. Only the outbox changes it. */
  pending: Buffer | Buffer[] | null;
  /** The raw socket under `ws`, where batched frames are written. */
  readonly socket: Duplex;
  readonly ws: { readonly readyState: number };
}

/**
 * A tick also counts as full once it queued this many frames per member it writes to (and at
 * least MIN_FRAMES): the writes grow with what each member holds, and more than a few dozen frames
 * a member gain nothing but a longer flush.
 */
const FRAMES_PER_MEMBER = 32;
const MIN_FRAMES = 20_000;

/**
 * The write path. Frames are built once per message and queued by reference on each recipient;
 * once per tick every member with something queued gets one socket write holding all of it.
 * One write per member per tick is what keeps fan-out cheap: the
 * cost of a send on loopback is the system call, not the bytes.
 *
 * What a delivery costs, and why:
 * - per message: one JSON string and one frame Buffer (two with envelope members), built once
 *   by MessageFrames, whatever the number of members;
 * - per member and message: a reference stored in `pending` (no allocation for a member's first
 *   frame of a tick; a small array from its second on), and one readyState check; a member's
 *   writableLength is read once a tick, at its first frame;
 * - per member and tick: one `socket.write` (one writev system call on an idle socket). With
 *   several frames, one Buffer.concat, shared by neighbours in the dirty list that hold the very
 *   same frames (the members of one channel usually do), so a burst costs one copy per channel,
 *   not per member;
 * - per tick: at most `budget` ms of queueing, or FRAMES_PER_MEMBER frames per member written to
 *   (at least MIN_FRAMES), before new frames from clients wait (see `full`). Not a fixed count of
 *   deliveries: the flush costs a write per member however many frames each holds, and a count
 *   low enough for 1,000 members cut every write to 5,000 members down to four messages. Not time
 *   alone either: offered twice what it delivers, 20 ms of queueing made flushes so large that
 *   /healthz went unanswered for 10-20 s in the benchmark's overload scenario.
 *
 * Frames go straight to the member's socket, bypassing ws's own sender. That is safe because the
 * server never compresses (perMessageDeflate is off) and never sends blobs, so ws's sender keeps
 * no queue of its own; control frames (ping, close) still go through ws. `flushNow` must run
 * before anything that makes ws write a close frame, so that queued data goes out first.
 */
export class Outbox<R extends Recipient = Recipient> {
  private dirty: R[] = [];
  private scheduled = false;
  /** When this tick queued its first frame (performance.now()); null until it has. */
  private tickStarted: number | null = null;
  /** Frames queued this tick. */
  private queued = 0;
  /** Run after each flush: the next tick's work may start. */
  private flushed: () => void = () => undefined;

  /**
   * @param maxBufferedBytes what a member may have waiting in its socket before it is given up on
   * @param onSlow called once for a member past that cap; nothing more is written to it, so the
   * memory a reader that never reads can hold stays bounded by the cap plus one tick's writes
   */
  constructor(
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (member: R) => void,
    /** Milliseconds a tick may spend queueing before the outbox counts as full (0: after one frame); see {@link full}. */
    private readonly budget: number,
  ) {}

  /**
   * Whether this tick has spent its time queueing frames. Offered more than it can deliver, the
   * server stops taking in new frames until the flush (see Session): each tick's work stays
   * bounded, so the loop keeps answering health checks and what is queued stays bounded too.
   */
  get full(): boolean {
    if (this.tickStarted === null) return false;
    if (this.budget === 0 || this.queued >= Math.max(MIN_FRAMES, this.dirty.length * FRAMES_PER_MEMBER)) return true;
    return performance.now() - this.tickStarted >= this.budget;
  }

  /** Calls `then` after each flush. */
  onFlushed(then: () => void): void {
    this.flushed = then;
  }

  /**
   * Queues a frame for a member; it leaves on this tick's flush, after anything queued before it.
   * Returns false, queueing nothing, when the member's socket is no longer open.
   */
  send(member: R, frame: Buffer): boolean {
    if (member.ws.readyState !== WebSocket.OPEN) return false;
    const pending = member.pending;
    if (pending === null) {
      // Checked once a tick, as a member's first frame of the tick is queued: what it holds is at
      // most the cap plus one tick's writes, and a member given up on is queued (and counted) nothing.
      if (member.socket.writableLength > this.maxBufferedBytes) {
        this.onSlow(member);
        return false;
      }
      member.pending = frame;
      this.dirty.push(member);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    } else if (Array.isArray(pending)) {
      pending.push(frame);
    } else {
      member.pending = [pending, frame];
    }
    this.tickStarted ??= performance.now();
    this.queued += 1;
    return true;
  }

  /** Writes a member's queued frames at once, ahead of the tick's flush. */
  flushNow(member: R): void {
    const pending = member.pending;
    if (pending === null) return;
    member.pending = null;
    this.write(member, Array.isArray(pending) ? Buffer.concat(pending) : pending);
  }

  /** Drops whatever is queued for a member that is gone. */
  discard(member: R): void {
    member.pending = null;
  }

  private readonly flush = (): void => {
    const members = this.dirty;
    this.dirty = [];
    this.scheduled = false;
    // Members of one channel are queued in the same order for each message, so neighbours in the
    // dirty list usually hold the very same frames: join them once and share the result.
    let lastList: Buffer[] | null = null;
    let lastJoined: Buffer | null = null;
    for (const member of members) {
      const pending = member.pending;
      if (pending === null) continue;
      member.pending = null;
      if (!Array.isArray(pending)) {
        this.write(member, pending);
      } else {
        if (lastList === null || !sameFrames(pending, lastList)) {
          lastList = pending;
          lastJoined = Buffer.concat(pending);
        }
        this.write(member, lastJoined!);
      }
    }
    this.tickStarted = null;
    this.queued = 0;
    this.flushed();
  };

  private write(member: R, data: Buffer): void {
    if (member.ws.readyState === WebSocket.OPEN) member.socket.write(data);
  }
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

