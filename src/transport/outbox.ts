import type { Duplex } from 'node:stream';
import { OPEN } from './link.js';

/** What the outbox writes to: a WebSocket's socket, and the frames queued for it. */
export interface Recipient {
  /** Frames queued for the next flush: none, one, or several in order. Only the outbox changes it. */
  pending: Buffer | Buffer[] | null;
  /** The socket, where batched frames are written, and whether the WebSocket over it is open. */
  readonly link: { readonly socket: Duplex; readonly readyState: number };
}

/**
 * A tick also counts as full once it queued this many frames per member it writes to (and at
 * least MIN_FRAMES). A write costs about 6 µs on loopback whatever it holds, plus about 0.05 µs
 * per 100-byte frame: 128 frames (some 16 KB) is where the fixed part stops mattering. At 32,
 * rooms delivered 0.6-0.7× what it does at 128 in the flood, one write carrying a quarter as much.
 */
const FRAMES_PER_MEMBER = 128;
const MIN_FRAMES = 20_000;

/** A flush writes for at most this long before it lets the loop turn, checking every SLICE_CHECK members. */
const SLICE_MS = 5;
const SLICE_CHECK = 64;

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
 *   /healthz went unanswered for 10-20 s in the benchmark's overload scenario;
 * - per flush: slices of at most SLICE_MS, each its own turn of the event loop, until every member
 *   is written; new frames from clients wait until the last slice. A flush of 1,000 members with
 *   128 frames each takes 15-40 ms, and Node accepts one new connection per turn of the loop: in
 *   one piece, a /healthz asked every 20 ms waited 1-4 s behind the connections queued before it.
 *
 * Frames go straight to the member's socket: ws only does the handshake, and the member's Link
 * writes nothing but control frames (a pong, the close frame). `flushNow` must run before
 * anything that makes the Link write a close frame, so that queued data goes out first.
 */
export class Outbox<R extends Recipient = Recipient> {
  private dirty: R[] = [];
  private scheduled = false;
  /** The members of the flush under way, which may take several slices; null between flushes. */
  private writing: R[] | null = null;
  /** Where in `writing` the next slice starts. */
  private at = 0;
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
    if (this.writing !== null) return true;
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
    if (member.link.readyState !== OPEN) return false;
    const pending = member.pending;
    if (pending === null) {
      // Checked once a tick, as a member's first frame of the tick is queued: what it holds is at
      // most the cap plus one tick's writes, and a member given up on is queued (and counted) nothing.
      if (member.link.socket.writableLength > this.maxBufferedBytes) {
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
    if (this.writing === null) {
      this.writing = this.dirty;
      this.dirty = [];
      this.at = 0;
    }
    const members = this.writing;
    const started = performance.now();
    // Members of one channel are queued in the same order for each message, so neighbours in the
    // dirty list usually hold the very same frames: join them once and share the result.
    let lastList: Buffer[] | null = null;
    let lastJoined: Buffer | null = null;
    for (; this.at < members.length; this.at += 1) {
      // The rest waits for the next turn of the loop, which meanwhile reads sockets, accepts
      // connections and answers /healthz: a flush of thousands of members is many milliseconds.
      if (this.at % SLICE_CHECK === SLICE_CHECK - 1 && performance.now() - started >= SLICE_MS) {
        setImmediate(this.flush);
        return;
      }
      const member = members[this.at];
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
    this.writing = null;
    this.scheduled = this.dirty.length > 0;
    if (this.scheduled) setImmediate(this.flush);
    // The next tick starts now, with what came in during the slices (which did not wait for `full`:
    // deliveries from Redis, pings) not counted against it: counted, they could leave the tick
    // full before it began, and the frames clients sent meanwhile would never resume.
    this.tickStarted = null;
    this.queued = 0;
    this.flushed();
  };

  private write(member: R, data: Buffer): void {
    if (member.link.readyState === OPEN) member.link.socket.write(data);
  }
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

