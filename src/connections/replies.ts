import { ERRORS, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import * as encode from '../protocol/encode.js';
import { guard } from '../protocol/guard.js';
import { textFrame } from '../transport/frame.js';
import type { Outbox } from '../transport/outbox.js';
import { CLOSES, type Close } from '../wire/closes.js';
import type { Connection } from '../channels/connection.js';

/**
 * What the server says to one connection outside the fan-out: a reply, an error (closing the
 * connection when the error's row has a close code), a close, and the guard every async
 * continuation of a connection runs under.
 */
export class Replies {
  constructor(
    private readonly outbox: Outbox<Connection>,
    private readonly metrics: Metrics,
    readonly log: Logger,
  ) {}

  send(connection: Connection, json: string): void {
    const frame = textFrame(json);
    if (this.outbox.send(connection, frame)) this.metrics.delivered(encode.eventOf(json), 1, frame.length);
  }

  /** Sends an error event, and closes the connection when the error's row has a close code. */
  fail(connection: Connection, code: ErrorCode, details: encode.ErrorDetails = {}): void {
    this.metrics.error(code);
    this.send(connection, encode.errorEvent(code, details));
    const close = ERRORS[code].close;
    if (close !== undefined) this.close(connection, close, details.message ?? ERRORS[code].message);
  }

  /** Closes a connection, after whatever was queued for it has been written, with a row of the close table. */
  close(connection: Connection, close: Close, reason: string = close.reason): void {
    this.outbox.flushNow(connection);
    connection.closing();
    release(connection);
    connection.link.close(close.code, truncateReason(reason));
  }

  /**
   * Closes a connection once every request it made has been answered (each is, within
   * redisTimeout), so that what the server accepted keeps its answer; it reads nothing more
   * meanwhile.
   */
  closeAnswered(connection: Connection, close: Close): void {
    if (connection.unanswered === 0) return this.close(connection, close);
    connection.parting = close;
  }

  /** A request was carried out and its answer will come later: a close by closeAnswered waits for it. */
  begin(connection: Connection): void {
    connection.unanswered += 1;
  }

  /** The answer {@link begin} announced was sent (or the request ended without one). */
  end(connection: Connection): void {
    connection.unanswered -= 1;
    if (connection.unanswered === 0 && connection.parting !== null && connection.open) this.close(connection, connection.parting);
  }

  /** Forgets what is queued for a connection that is gone. */
  drop(connection: Connection): void {
    this.outbox.discard(connection);
  }

  /** Gives up on a member that does not read: closes it as too slow, writing nothing more to it. */
  slow(connection: Connection): void {
    this.log.warn({ user: connection.name, channel: connection.channel.id, buffered: connection.link.socket.writableLength }, 'closing a member that is too slow');
    this.metrics.slowConsumer();
    this.outbox.discard(connection);
    connection.closing();
    release(connection);
    connection.link.close(CLOSES.too_slow.code, CLOSES.too_slow.reason);
  }

  /** Runs async work for a connection: a failure in it costs that connection (internal_error, 1011), logged once. */
  guard(connection: Connection, what: string, work: () => Promise<void>): void {
    const context = (): Record<string, unknown> => ({ user: connection.name, channel: connection.channel.id, connection: connection.id });
    this.begin(connection);
    const counted = async (): Promise<void> => {
      try {
        await work();
      } finally {
        this.end(connection);
      }
    };
    guard(this.log, what, context, counted, () => this.fail(connection, 'internal_error'));
  }
}

/**
 * A connection the server closes drops the frames that wait in its backlog (see Session.defer):
 * none of them will be carried out. Its socket reads again, so the link sees the peer's close frame.
 */
function release(connection: Connection): void {
  if (connection.backlog === null) return;
  connection.backlog = null;
  connection.link.resume();
}

/** Close reasons are limited to 123 bytes by the protocol. */
function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason);
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString();
}
