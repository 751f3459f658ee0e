import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Identity, JwtVerifier } from '../auth/jwt.js';
import { sameToken } from '../auth/token.js';
import type { Channel } from '../channels/channel.js';
import type { Admission, Presence } from './presence.js';
import type { Named, Publisher } from './publisher.js';
import type { Connection } from '../channels/connection.js';
import type { Hub } from '../connections/hub.js';
import type { Replies } from '../connections/replies.js';
import { say } from '../errors.js';
import { CLOSES } from '../wire/closes.js';
import type { Metrics } from '../metrics.js';
import { decode, validName } from '../protocol/decode.js';
import * as encode from '../protocol/encode.js';
import { openEnvelope } from '../protocol/envelope.js';
import { Link, type LinkEvents, type LinkOptions } from '../transport/link.js';
import type { Request, RequestId } from '../protocol/messages.js';
import type { RateLimit } from '../protocol/rate.js';

/** How full this tick's writes are (the Outbox): a full tick takes in no new frames until its flush. */
export interface Load {
  readonly full: boolean;
  onFlushed(then: () => void): void;
}

export interface SessionOptions {
  authTimeout: number;
  /** The JWT verifier in token mode; null in open mode. */
  jwt: JwtVerifier | null;
  rateLimit: RateLimit;
  maxMessageBytes: number;
  /** The largest message a client may send, in bytes; a larger one closes it with 1009. */
  maxPayload: number;
  hub: Hub;
  replies: Replies;
  presence: Presence;
  publisher: Publisher;
  metrics: Metrics;
  load: Load;
}

type Of<E extends Request['event']> = Extract<Request, { event: E }>;

const MAX_TIMER = 2_147_483_647;

/** Most chat envelopes a session without auth may send before its generated name is claimed. */
const MAX_EARLY = 64;

/**
 * Protocol v1 for each connection, from its first frame to its close: limits, decoding, dispatch,
 * the auth deadline, tokens and their expiry. Names go to Presence, messages to the Publisher.
 * One Session serves every connection: the listeners it puts on a socket are made once, not per
 * connection.
 */
export class Session {
  private readonly hub: Hub;
  private readonly replies: Replies;
  /** Connections with a backlog, in the order they began to wait. */
  private readonly waiting = new Set<Connection>();
  /** What every connection's link is made with. */
  private readonly link: LinkOptions<Connection>;

  constructor(private readonly options: SessionOptions) {
    this.hub = options.hub;
    this.replies = options.replies;
    options.load.onFlushed(() => this.resume());
    this.link = { maxPayload: options.maxPayload, events: this.events() };
  }

  /** What each link tells the session; one object for every connection. */
  private events(): LinkEvents<Connection> {
    const load = this.options.load;
    return {
      message: (connection, data, isBinary) => {
        // The server is closing it (too slow, refused, removed): nothing it sends is carried out.
        if (connection.ending) return;
        if (connection.backlog !== null || load.full) return this.defer(connection, data, isBinary);
        this.handle(connection, data, isBinary);
      },
      close: (connection) => this.closed(connection),
      pong: (connection) => {
        connection.alive = true;
      },
      error: (connection, err) => {
        // The link closes the connection itself after a protocol error (bad frame, too big, bad UTF-8).
        this.replies.log.debug({ user: connection.name, err: err.message }, 'connection error');
      },
    };
  }

  /** Takes a freshly upgraded socket into its channel and starts its auth deadline. */
  open(channel: Channel, socket: Duplex, head: Buffer, ip: string, identity: Identity | null): Connection {
    const link = new Link<Connection>(socket, this.link);
    const connection = this.hub.add(channel, link, ip);
    link.owner = connection;
    connection.identity = identity;
    if (this.options.rateLimit.enabled) connection.bucket = this.options.rateLimit.fresh(Date.now());
    connection.authTimer = setTimeout(this.authExpired, this.options.authTimeout, connection);
    link.start(head);
    return connection;
  }

  private handle(connection: Connection, data: Buffer, isBinary: boolean): void {
    try {
      this.message(connection, data, isBinary);
    } catch (err) {
      // A frame the code did not foresee costs its own connection, never the server.
      this.replies.log.error({ err, user: connection.name }, 'failed to handle a frame');
      this.replies.fail(connection, 'internal_error');
    }
  }

  /**
   * This tick spent its tickBudget of fan-out: the frame waits, in order, and the connection's socket
   * is paused, so what the server takes in while overloaded stays in the kernel's buffers (and
   * slows its sender) instead of in queues here.
   */
  private defer(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (connection.backlog === null) {
      connection.backlog = [];
      this.waiting.add(connection);
      connection.link.pause();
    }
    connection.backlog.push({ data, isBinary });
    this.options.metrics.deferred();
  }

  /** After a flush: the waiting frames go on, a frame from each connection in turn, until the tick is full again. */
  private resume(): void {
    const load = this.options.load;
    while (this.waiting.size > 0 && !load.full) {
      for (const connection of this.waiting) {
        if (load.full) return;
        // Closed by the server meanwhile: Replies dropped its frames and let it read again.
        if (connection.backlog === null) {
          this.waiting.delete(connection);
          continue;
        }
        const next = connection.backlog.shift()!;
        if (connection.backlog.length === 0) this.unblock(connection);
        this.handle(connection, next.data, next.isBinary);
      }
    }
  }

  /** Its backlog is through: the connection reads again (the link ignores this once the socket is closed). */
  private unblock(connection: Connection): void {
    connection.backlog = null;
    this.waiting.delete(connection);
    connection.link.resume();
  }

  private readonly authExpired = (connection: Connection): void => {
    connection.authTimer = null;
    if (connection.unnamed) this.replies.fail(connection, 'auth_timeout');
  };

  private message(connection: Connection, data: Buffer, isBinary: boolean): void {
    // Closing once what it sent before is answered: nothing more is carried out.
    if (connection.parting !== null) return this.dropped(connection, data, isBinary, false);
    if (connection.bucket !== null) {
      const verdict = this.options.rateLimit.take(connection.bucket, Date.now());
      if (verdict.act !== 'pass') this.options.metrics.error('rate_limited');
      if (verdict.act === 'close') {
        this.dropped(connection, data, isBinary, false);
        return this.replies.closeAnswered(connection, CLOSES.rate_limited);
      }
      if (verdict.act === 'refuse') return this.dropped(connection, data, isBinary, verdict.warn, verdict.retryAfterMs);
    }
    if (data.length > this.options.maxMessageBytes) {
      return this.replies.fail(connection, 'message_too_long', { message: say('message_too_long', { bytes: data.length, limit: this.options.maxMessageBytes }) });
    }
    if (isBinary) {
      this.options.metrics.messageIn(connection.envelope ? 'envelope' : 'binary', data.length);
      // An envelope session's messages wait, in order, until its generated name is claimed and replayed to.
      if (connection.envelope && this.options.jwt === null && (connection.early !== null || !isNamed(connection))) return this.sessionEnvelope(connection, data);
      if (!isNamed(connection)) return this.replies.fail(connection, 'not_authenticated');
      if (connection.envelope) {
        // An envelope holding a ChatMessage is a broadcast, the sender's copy included.
        const opened = openEnvelope(data);
        if (!opened.ok) return this.replies.fail(connection, 'bad_envelope', { message: opened.reason });
        return this.options.publisher.toAll(connection, { message: opened.message }, true);
      }
      // Any other binary frame is opaque and goes to the other members unchanged.
      return this.options.publisher.binary(connection, data);
    }
    const decoded = decode(data.toString());
    this.options.metrics.messageIn(decoded.ok ? decoded.request.event : 'invalid', data.length);
    if (!decoded.ok) return this.replies.fail(connection, decoded.code, { message: decoded.message, re: decoded.id });
    this.dispatch(connection, decoded.request);
  }

  /**
   * A frame the rate limit drops. A request with an id is told so with its `re`, so that its
   * sender knows to send it again; other frames hear it once (`warn`).
   */
  private dropped(connection: Connection, data: Buffer, isBinary: boolean, warn: boolean, retryAfterMs?: number): void {
    const re = isBinary || data.length > this.options.maxMessageBytes ? undefined : requestIdOf(data);
    if (re !== undefined || warn) this.replies.send(connection, encode.errorEvent('rate_limited', { retryAfterMs, re }));
  }

  /**
   * A chat envelope from a connection that has no name (open mode). Seed 000's clients never send
   * `auth`: each connection is a session with a generated id. So the first envelope admits the
   * connection under a generated name, and what it sent meanwhile goes out, in order, once the
   * name is claimed. Such a session gets no `token` reply: its client reads envelopes only.
   */
  private sessionEnvelope(connection: Connection, data: Buffer): void {
    const opened = openEnvelope(data);
    if (!opened.ok) return this.replies.fail(connection, 'bad_envelope', { message: opened.reason });
    if (connection.early !== null) {
      if (connection.early.length < MAX_EARLY) connection.early.push(opened.message);
      else this.replies.fail(connection, 'unavailable', { message: 'your session is still starting: send that message again' });
      return;
    }
    // A JSON auth is under way: its outcome, not a generated name, says who this is.
    if (!connection.unnamed) return this.replies.fail(connection, 'not_authenticated');
    connection.early = [opened.message];
    const name = `session-${randomBytes(6).toString('hex')}`;
    this.admit(connection, name, { event: 'auth', user: name, presence: false }, { silent: true }, () => {
      const early = connection.early ?? [];
      connection.early = null;
      if (isNamed(connection)) for (const message of early) this.options.publisher.toAll(connection, { message }, true);
    });
  }

  private dispatch(connection: Connection, request: Request): void {
    switch (request.event) {
      case 'auth':
        return this.auth(connection, request);
      case 'refresh':
        return this.replies.guard(connection, 'to refresh a token', () => this.refresh(connection, request));
      case 'close':
        return this.replies.close(connection, CLOSES.normal);
      case 'error':
        // A classic chat client answers every event it does not know with an error event: log, never answer, or the two would loop.
        this.replies.log.info({ user: connection.name, message: request.message }, 'client reported an error');
        return;
    }
    if (!isNamed(connection)) return this.replies.fail(connection, 'not_authenticated', { re: request.id });
    const required = request.event === 'user_list' || request.event === 'talk_with';
    if (request.auth === undefined && required) {
      return this.replies.fail(connection, 'bad_token', { message: 'auth error,no token', re: request.id });
    }
    if (request.auth !== undefined && !sameToken(request.auth, connection.token)) {
      return this.replies.fail(connection, 'bad_token', { re: request.id });
    }
    const publisher = this.options.publisher;
    switch (request.event) {
      case 'user_list':
        return this.options.presence.userList(connection, request.id);
      case 'talk_with':
        return request.to === undefined ? publisher.toAll(connection, request, false) : publisher.toNamed(connection, request, request.to);
      case 'broadcast':
        return publisher.toAll(connection, request, true);
      case 'helloworld':
        return publisher.helloworld(connection, request);
    }
  }

  private auth(connection: Connection, request: Of<'auth'>): void {
    if (!connection.unnamed) return this.replies.fail(connection, 'already_authenticated', { re: request.id });
    const jwt = this.options.jwt;
    if (jwt === null) {
      if (request.user === undefined) return this.replies.fail(connection, 'invalid_name', { message: 'auth error,no user', re: request.id });
      return this.admit(connection, request.user, request);
    }
    // Token mode: the name comes from a token, given at the upgrade or in this auth event.
    if (connection.identity !== null) return this.admitIdentity(connection, connection.identity, request);
    if (request.token === undefined) {
      return this.refuseToken(connection, 'auth error,no token: this server needs a token from your application', request);
    }
    connection.verifying();
    const token = request.token;
    this.replies.guard(connection, 'to verify a token', async () => {
      const verified = await jwt.verify(token, connection.channel.path, connection.channel.id);
      if (!connection.open) return;
      connection.reopen();
      if (!verified.ok) return this.refuseToken(connection, verified.reason, request);
      this.admitIdentity(connection, verified.identity, request);
    });
  }

  private admitIdentity(connection: Connection, identity: Identity, request: Of<'auth'>): void {
    const name = validName(identity.user);
    if (name === null) return this.refuseToken(connection, 'bad token: its sub is not a valid user name', request);
    connection.identity = identity;
    this.admit(connection, name, request);
    this.scheduleExpiry(connection);
  }

  private admit(connection: Connection, name: string, request: Of<'auth'>, how: Admission = { silent: false }, then?: () => void): void {
    this.options.presence.admit(connection, name, request, how, () => {
      if (connection.name !== null) {
        if (connection.authTimer !== null) clearTimeout(connection.authTimer);
        connection.authTimer = null;
      } else if (connection.authTimer === null && connection.unnamed && connection.open) {
        // The auth deadline passed while the name was being claimed, and the claim failed.
        this.replies.fail(connection, 'auth_timeout');
      }
      then?.();
    });
  }

  private refuseToken(connection: Connection, reason: string, request: { id?: RequestId }): void {
    this.options.metrics.error('bad_token');
    this.replies.send(connection, encode.errorEvent('bad_token', { message: reason, re: request.id }));
    this.replies.close(connection, CLOSES.bad_token, reason);
  }

  /** A fresh token for the same user pushes the connection's expiry back. */
  private async refresh(connection: Connection, request: Of<'refresh'>): Promise<void> {
    const jwt = this.options.jwt;
    if (jwt === null || connection.identity === null || connection.name === null) {
      const message = jwt === null ? 'this server does not use tokens (authMode open)' : 'send auth before refresh';
      return this.replies.fail(connection, jwt === null ? 'bad_token' : 'not_authenticated', { message, re: request.id });
    }
    const verified = await jwt.verify(request.token, connection.channel.path, connection.channel.id);
    if (!connection.open) return;
    if (!verified.ok) return this.replies.fail(connection, 'bad_token', { message: verified.reason, re: request.id });
    if (verified.identity.user !== connection.identity.user) {
      return this.replies.fail(connection, 'bad_token', { message: `bad token: it is for ${verified.identity.user}, not ${connection.identity.user}`, re: request.id });
    }
    connection.identity = verified.identity;
    this.scheduleExpiry(connection);
    this.replies.send(connection, encode.refreshEvent(verified.identity.exp, request.id));
  }

  /** Closes the connection with 4401 "token expired" when its token's exp passes. */
  private scheduleExpiry(connection: Connection): void {
    if (connection.expiryTimer !== null) clearTimeout(connection.expiryTimer);
    connection.expiryTimer = null;
    const exp = connection.identity?.exp ?? null;
    if (exp === null) return;
    // setTimeout holds at most about 24 days; a later expiry is checked again then.
    const wait = Math.min(exp * 1000 - Date.now(), MAX_TIMER);
    connection.expiryTimer = setTimeout(this.expire, Math.max(wait, 0), connection);
  }

  private readonly expire = (connection: Connection): void => {
    connection.expiryTimer = null;
    const exp = connection.identity?.exp ?? null;
    if (exp !== null && exp * 1000 > Date.now()) return this.scheduleExpiry(connection);
    this.options.metrics.error('token_expired');
    this.replies.send(connection, encode.errorEvent('token_expired'));
    this.replies.close(connection, CLOSES.bad_token, 'token expired');
  };

  private closed(connection: Connection): void {
    // What it sent before it closed is carried out, as it would have been without the backlog.
    const backlog = connection.backlog;
    if (backlog !== null) {
      this.unblock(connection);
      for (const frame of backlog) this.handle(connection, frame.data, frame.isBinary);
    }
    this.hub.remove(connection);
    this.replies.drop(connection);
    if (connection.authTimer !== null) clearTimeout(connection.authTimer);
    connection.authTimer = null;
    if (connection.expiryTimer !== null) clearTimeout(connection.expiryTimer);
    connection.expiryTimer = null;
    this.options.presence.left(connection);
    connection.closed();
  }
}

function isNamed(connection: Connection): connection is Named {
  return connection.name !== null && connection.token !== null;
}

/** The id of a request in a text frame, when it has a valid one. */
function requestIdOf(data: Buffer): RequestId | undefined {
  const decoded = decode(data.toString());
  return decoded.ok ? decoded.request.id : decoded.id;
}
