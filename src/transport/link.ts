import { isUtf8 } from 'node:buffer';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/**
 * One client's WebSocket once ws has done its handshake: the frames it sends are read here, and
 * the control frames it is owed (pong, close) are written here. Data frames go out through the
 * Outbox, straight to the socket.
 *
 * Why not ws's own WebSocket: it gives each connection a WebSocket, a Receiver (a Writable stream
 * with its own state and listeners) and a Sender, about 1.3 KB of heap with their property
 * stores, which was most of what an idle member cost (docs/benchmarks.md, "Where the time goes").
 * A Link is one object of a few fields, with no buffers while idle; its listeners on the socket
 * are made once for all links. It reads frames as ws's Receiver does, with the same close codes
 * (1002 protocol error, 1007 bad UTF-8, 1009 too big) and the same closing handshake; the test
 * test/link.test.ts feeds both the same bytes, cut at random places, and compares what they make
 * of them. The server never negotiates an extension (perMessageDeflate is off), so RSV bits are
 * always an error.
 */

/** A frame the client should not have sent, with the close code it gets for it. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** What happens on a link, told to its owner. One object serves every link of a server. */
export interface LinkEvents<T> {
  /** A whole message: text (UTF-8 checked) or binary, its fragments joined. */
  message(owner: T, data: Buffer, isBinary: boolean): void;
  pong(owner: T): void;
  /** The client broke the protocol; the link is closing with `err.status`. */
  error(owner: T, err: FrameError): void;
  /** The socket is closed; once per link. */
  close(owner: T): void;
}

export interface LinkOptions<T> {
  /** The largest message in bytes, all its fragments together. */
  maxPayload: number;
  events: LinkEvents<T>;
}

export const OPEN = WebSocket.OPEN;
export const CLOSING = WebSocket.CLOSING;
export const CLOSED = WebSocket.CLOSED;

/** How long a close waits for the client's close frame before the socket is destroyed (ws's own). */
const CLOSE_TIMEOUT = 30_000;

const LINK = Symbol('rooms.link');
type Linked = Duplex & { [LINK]?: Link<unknown> };

const enum Step {
  Info,
  Length16,
  Length64,
  Mask,
  Data,
  /** A close frame was read, or the client broke the protocol: nothing more is read. */
  Done,
}

const EMPTY: Buffer = Buffer.alloc(0);

export class Link<T> {
  /** OPEN, CLOSING or CLOSED, as WebSocket's readyState. */
  readyState: number = OPEN;
  owner!: T;
  private step = Step.Info;
  /** Bytes read and not yet parsed, oldest first; null when there are none. */
  private chunks: Buffer[] | null = null;
  private bufferedBytes = 0;
  private fin = false;
  private opcode = 0;
  private length = 0;
  private mask: Buffer | null = null;
  /** The opcode of the fragmented message under way (1 or 2), 0 when none is. */
  private fragmented = 0;
  /** The payload bytes of the message under way, announced so far. */
  private total = 0;
  private fragments: Buffer[] | null = null;
  private closeSent = false;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: Duplex,
    private readonly options: LinkOptions<T>,
  ) {}

  /** Starts reading, beginning with `head` (what came after the handshake in its packet). */
  start(head: Buffer): void {
    const socket = this.socket as Linked;
    socket[LINK] = this;
    if (socket instanceof Socket) {
      socket.setTimeout(0);
      socket.setNoDelay();
    }
    if (head.length > 0) socket.unshift(head);
    socket.on('close', socketOnClose);
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('error', socketOnError);
  }

  /** Stops reading from the client, so that what it sends waits in the kernel; see resume. */
  pause(): void {
    if (this.readyState !== CLOSED) this.socket.pause();
  }

  resume(): void {
    if (this.readyState !== CLOSED) this.socket.resume();
  }

  /**
   * Starts the closing handshake: sends a close frame (an empty one without a code), then ends
   * the socket once the client's close frame is in. A client that never answers is cut after 30 s.
   */
  close(code?: number, reason = ''): void {
    if (this.readyState === CLOSED) return;
    if (this.readyState === CLOSING) {
      if (this.closeSent && this.step === Step.Done) this.socket.end();
      return;
    }
    this.readyState = CLOSING;
    this.socket.write(closeFrame(code, reason), (err) => {
      if (err) return;
      this.closeSent = true;
      // The client's close frame is in, or it broke the protocol: nothing more will be read.
      if (this.step === Step.Done) this.socket.end();
    });
    this.closeTimer = setTimeout(destroy, CLOSE_TIMEOUT, this.socket);
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.socket.destroy();
  }

  /** Parses what the client sent, emitting each whole message and control frame in order. */
  read(chunk: Buffer): void {
    if (this.step === Step.Done) return;
    if (this.chunks === null) this.chunks = [chunk];
    else this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    try {
      let more = true;
      while (more) more = this.parse();
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.broken(err);
    }
    if (this.bufferedBytes === 0) this.chunks = null;
  }

  /** Takes the next piece of a frame; false when more bytes are needed or reading is over. */
  private parse(): boolean {
    switch (this.step) {
      case Step.Info:
        return this.info();
      case Step.Length16:
        if (this.bufferedBytes < 2) return false;
        this.length = this.consume(2).readUInt16BE(0);
        return this.haveLength();
      case Step.Length64: {
        if (this.bufferedBytes < 8) return false;
        const bytes = this.consume(8);
        // Past 2^53 this is not exact, but it is far past maxPayload all the same.
        this.length = bytes.readUInt32BE(0) * 2 ** 32 + bytes.readUInt32BE(4);
        return this.haveLength();
      }
      case Step.Mask:
        if (this.bufferedBytes < 4) return false;
        this.mask = this.consume(4);
        this.step = Step.Data;
        return true;
      case Step.Data:
        return this.data();
      case Step.Done:
        return false;
    }
  }

  private info(): boolean {
    if (this.bufferedBytes < 2) return false;
    const bytes = this.consume(2);
    if ((bytes[0] & 0x30) !== 0) throw new FrameError('Invalid WebSocket frame: RSV2 and RSV3 must be clear', 1002);
    if ((bytes[0] & 0x40) !== 0) throw new FrameError('Invalid WebSocket frame: RSV1 must be clear', 1002);
    this.fin = (bytes[0] & 0x80) !== 0;
    let opcode = bytes[0] & 0x0f;
    this.length = bytes[1] & 0x7f;
    if (opcode === 0x00) {
      if (this.fragmented === 0) throw new FrameError('Invalid WebSocket frame: invalid opcode 0', 1002);
      opcode = this.fragmented;
    } else if (opcode === 0x01 || opcode === 0x02) {
      if (this.fragmented !== 0) throw new FrameError(`Invalid WebSocket frame: invalid opcode ${opcode}`, 1002);
    } else if (opcode === 0x08 || opcode === 0x09 || opcode === 0x0a) {
      if (!this.fin) throw new FrameError('Invalid WebSocket frame: FIN must be set', 1002);
      if (this.length > 125 || (opcode === 0x08 && this.length === 1)) {
        throw new FrameError(`Invalid WebSocket frame: invalid payload length ${this.length}`, 1002);
      }
    } else {
      throw new FrameError(`Invalid WebSocket frame: invalid opcode ${opcode}`, 1002);
    }
    this.opcode = opcode;
    if (!this.fin && this.fragmented === 0) this.fragmented = opcode;
    if ((bytes[1] & 0x80) === 0) throw new FrameError('Invalid WebSocket frame: MASK must be set', 1002);
    if (this.length === 126) this.step = Step.Length16;
    else if (this.length === 127) this.step = Step.Length64;
    else return this.haveLength();
    return true;
  }

  private haveLength(): boolean {
    if (this.length > 0 && this.opcode < 0x08) {
      this.total += this.length;
      if (this.total > this.options.maxPayload) throw new FrameError('Max payload size exceeded', 1009);
    }
    this.step = Step.Mask;
    return true;
  }

  private data(): boolean {
    let payload = EMPTY;
    if (this.length > 0) {
      if (this.bufferedBytes < this.length) return false;
      payload = this.consume(this.length);
      unmask(payload, this.mask!);
    }
    this.mask = null;
    this.step = Step.Info;
    if (this.opcode > 0x07) return this.control(payload);
    if (payload.length > 0) {
      if (this.fragments === null) this.fragments = [payload];
      else this.fragments.push(payload);
    }
    if (!this.fin) return true;
    const fragments = this.fragments;
    const total = this.total;
    this.fragments = null;
    this.total = 0;
    this.fragmented = 0;
    const message = fragments === null ? EMPTY : fragments.length === 1 ? fragments[0] : Buffer.concat(fragments, total);
    const isBinary = this.opcode === 0x02;
    if (!isBinary && !isUtf8(message)) throw new FrameError('Invalid WebSocket frame: invalid UTF-8 sequence', 1007);
    this.options.events.message(this.owner, message, isBinary);
    return true;
  }

  private control(payload: Buffer): boolean {
    if (this.opcode === 0x09) {
      if (this.readyState === OPEN) this.socket.write(controlFrame(0x8a, payload));
      return true;
    }
    if (this.opcode === 0x0a) {
      this.options.events.pong(this.owner);
      return true;
    }
    let code: number | undefined;
    let reason = EMPTY;
    if (payload.length > 0) {
      code = payload.readUInt16BE(0);
      if (!validCloseCode(code)) throw new FrameError(`Invalid WebSocket frame: invalid status code ${code}`, 1002);
      reason = payload.subarray(2);
      if (!isUtf8(reason)) throw new FrameError('Invalid WebSocket frame: invalid UTF-8 sequence', 1007);
    }
    this.stopReading();
    this.close(code, reason.toString());
    return false;
  }

  /** Reading is over: later bytes are dropped, and the socket flows again so its end is seen. */
  private stopReading(): void {
    this.step = Step.Done;
    this.chunks = null;
    this.bufferedBytes = 0;
    this.fragments = null;
    this.socket.removeListener('data', socketOnData);
    process.nextTick(resume, this.socket);
  }

  private broken(err: FrameError): void {
    this.stopReading();
    this.close(err.status);
    this.options.events.error(this.owner, err);
  }

  /** Takes n buffered bytes: a view when they lie in one chunk, a copy when they span several. */
  private consume(n: number): Buffer {
    const chunks = this.chunks!;
    this.bufferedBytes -= n;
    const first = chunks[0];
    if (n === first.length) return chunks.shift()!;
    if (n < first.length) {
      chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = chunks[0];
      const take = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, take);
      at += take;
      if (take === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(take);
    }
    return out;
  }

  /**
   * Called by the socket's close listener: whatever the socket still held is read (it holds
   * frames while paused), then the owner is told.
   */
  socketClosed(): void {
    const socket = this.socket;
    socket.removeListener('close', socketOnClose);
    socket.removeListener('data', socketOnData);
    socket.removeListener('end', socketOnEnd);
    this.readyState = CLOSING;
    if (this.step !== Step.Done && socket.readableLength > 0) {
      const rest = socket.read(socket.readableLength) as Buffer | null;
      if (rest !== null) this.read(rest);
    }
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.readyState = CLOSED;
    (socket as Linked)[LINK] = undefined;
    this.options.events.close(this.owner);
  }
}

function linkOf(socket: Duplex): Link<unknown> | undefined {
  return (socket as Linked)[LINK];
}

function socketOnData(this: Duplex, chunk: Buffer): void {
  linkOf(this)?.read(chunk);
}

function socketOnClose(this: Duplex): void {
  linkOf(this)?.socketClosed();
}

/** The client ended its side: the link is closing, and the server ends its own. */
function socketOnEnd(this: Duplex): void {
  const link = linkOf(this);
  if (link !== undefined) link.readyState = CLOSING;
  this.end();
}

function socketOnError(this: Duplex): void {
  const link = linkOf(this);
  if (link !== undefined) link.readyState = CLOSING;
  this.destroy();
}

function resume(socket: Duplex): void {
  socket.resume();
}

function destroy(socket: Duplex): void {
  socket.destroy();
}

/** Unmasks a client frame's payload in place. */
function unmask(payload: Buffer, mask: Buffer): void {
  if ((mask[0] | mask[1] | mask[2] | mask[3]) === 0) return;
  for (let i = 0; i < payload.length; i += 1) payload[i] ^= mask[i & 3];
}

/** The close codes a peer may send (RFC 6455 7.4, as ws checks them). */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function controlFrame(first: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = first;
  frame[1] = payload.length;
  payload.copy(frame, 2);
  return frame;
}

/** A close frame: empty without a code, else the code and a reason of at most 123 bytes. */
function closeFrame(code: number | undefined, reason: string): Buffer {
  if (code === undefined) return Buffer.from([0x88, 0x00]);
  const text = Buffer.from(reason);
  if (text.length > 123) throw new RangeError('a close reason holds at most 123 bytes');
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return controlFrame(0x88, payload);
}
