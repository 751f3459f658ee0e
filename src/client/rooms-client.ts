// Longer than most files here: the client is one state machine (connect, authenticate, live,
// reconnect with backoff, resume, match replies to requests) whose parts share its socket and state.
import { CLOSES, reconnects } from '../wire/closes.js';
import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { RoomsError } from './errors.js';
import { parseIncoming, type Incoming } from './incoming.js';
import { refusalOf, socketConstructor, type Refusal } from './socket.js';
import type { Ack, ChatMessage, ClientState, RequestId, RoomsClientEvents, SocketLike } from './types.js';

/** Settings for a RoomsClient; every one but `user` or `token` has a default. */
export interface RoomsClientOptions {
  /** The name to join as (open mode). */
  user?: string;
  /** A JWT from your application (token mode), or a function giving a fresh one for each connection. */
  token?: string | (() => string | Promise<string>);
  /** Receive `join` and `leave` events. Default true. */
  presence?: boolean;
  /** Ms a request may wait for its reply, reconnections included, before it fails with `request_timeout`. Default 10000. */
  requestTimeout?: number;
  /** Ms an attempt may take from opening the socket to the `token` reply. Default 10000. */
  connectTimeout?: number;
  /**
   * Ms without any frame from the server after which the link counts as dead and is replaced. After
   * half of it the client sends a `user_list` as a probe, since browsers never show the server's
   * pings. Default 30000.
   */
  idleTimeout?: number;
  /** The first reconnection delay's ceiling, in ms; it doubles with every failed attempt. Default 500. */
  minDelay?: number;
  /** The longest reconnection delay, in ms. Default 30000. */
  maxDelay?: number;
  /**
   * How many of the channel's last messages to receive on the first connection, from the
   * server's history, before the live ones (as far as the history reaches). Default 0.
   */
  history?: number;
}

type Settings = Required<Omit<RoomsClientOptions, 'user' | 'token'>> & Pick<RoomsClientOptions, 'user' | 'token'>;

const DEFAULTS = { presence: true, requestTimeout: 10_000, connectTimeout: 10_000, idleTimeout: 30_000, minDelay: 500, maxDelay: 30_000, history: 0 };

const NORMAL_CLOSE = CLOSES.normal.code;
const DROPPED = CLOSES.dropped.code;

type Timer = ReturnType<typeof setTimeout>;
type Frame = Record<string, unknown>;

/** A request waiting for its reply; it is (re)sent on every connection until answered. */
interface Pending {
  /** The frame without its id, built with the connection's current token. */
  frame: (token: string | null) => Frame;
  /** Settles the request when `reply` answers it; false when the reply is of another kind. */
  reply: (reply: Incoming) => boolean;
  fail: (error: RoomsError) => void;
  /** Set while a request the rate limit dropped waits to be sent again. */
  resend?: Timer;
}

/**
 * A client for one rooms channel that keeps its connection: it reconnects with exponential backoff
 * and jitter, resumes from the last message it saw (`since` and `epoch`), and re-sends requests
 * that were not answered with their original id, so the server can drop duplicates.
 *
 * @example
 * import { RoomsClient } from 'rooms-server/client';
 * const client = new RoomsClient('ws://127.0.0.1:3000/channel?id=1', { user: 'alice' });
 * client.on('message', (m) => console.log(`${m.from}: ${String(m.message)}`));
 * await client.connect();
 * await client.publish('hello');
 * await client.close();
 */
export class RoomsClient extends Emitter<RoomsClientEvents> {
  /** The channel URL, `ws://HOST:PORT/channel?id=<channel>`. */
  readonly url: string;
  private readonly options: Settings;
  /** Random per client, so ids stay unique for the server's duplicate check across restarts. */
  private readonly idPrefix = randomPrefix();
  private nextId = 1;
  private current: ClientState = { state: 'idle' };
  private socket: SocketLike | null = null;
  /** The connection token from the `token` reply, which user_list and talk_with must carry. */
  private connectionToken: string | null = null;
  private authId: RequestId | null = null;
  /** The auth frame sent on the current socket, to send again when the server could not answer it. */
  private authFrame: string | null = null;
  private sentSince = false;
  /** Whether this connection's auth asked for the channel's last messages (`history`, first connection only). */
  private askedHistory = false;
  private everLive = false;
  /** The last (epoch, seq) seen: where a resume starts. */
  private position: { epoch: string; seq: number } | null = null;
  private readonly pending = new Map<RequestId, Pending>();
  private waiters: { resolve: () => void; reject: (error: RoomsError) => void }[] = [];
  private attempt = 0;
  private retryTimer: Timer | null = null;
  private connectTimer: Timer | null = null;
  private idleTimer: ReturnType<typeof setInterval> | null = null;
  private lastTraffic = 0;
  private probeId: RequestId | null = null;
  /** The last error event on this connection: the reason for the close that follows it, if one does. */
  private lastError: RoomsError | null = null;
  /** The socket's last error message (in Node, why it could not connect): the reason for a drop that gives none. */
  private socketError: string | null = null;

  constructor(url: string, options: RoomsClientOptions) {
    super();
    if (!/^wss?:\/\/./.test(url)) throw new TypeError(`url must start with ws:// or wss:// (got ${JSON.stringify(url)})`);
    if ((options.user === undefined) === (options.token === undefined)) throw new TypeError('give exactly one of user (open mode) or token (token mode)');
    if (options.user !== undefined && (typeof options.user !== 'string' || options.user.trim() === '')) {
      throw new TypeError(`user must be a non-empty string (got ${JSON.stringify(options.user)})`);
    }
    const settings: Settings = { ...DEFAULTS, ...options };
    for (const key of ['requestTimeout', 'connectTimeout', 'idleTimeout', 'minDelay', 'maxDelay'] as const) {
      const value = settings[key];
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`${key} must be a positive integer of milliseconds (got ${JSON.stringify(value)})`);
    }
    if (settings.maxDelay < settings.minDelay) throw new TypeError('maxDelay must be at least minDelay');
    if (!Number.isInteger(settings.history) || settings.history < 0) throw new TypeError(`history must be a whole number of messages, 0 or more (got ${JSON.stringify(settings.history)})`);
    this.url = url;
    this.options = settings;
  }

  /** Where the client stands: idle, connecting, live, reconnecting or offline. */
  get state(): ClientState {
    return this.current;
  }

  /**
   * Connects and resolves once authenticated. Rejects when the server refuses the client for good
   * (a 44xx close such as `name_taken`, or an HTTP 4xx at the upgrade) or close() is called first;
   * a connection that fails for a reason that may pass is retried with backoff meanwhile.
   */
  connect(): Promise<void> {
    if (this.current.state === 'live') return Promise.resolve();
    const live = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.current.state === 'idle' || this.current.state === 'offline') {
      this.attempt = 0;
      void this.open();
    }
    return live;
  }

  /** Sends `message` to every other member of the channel (talk_with without names). */
  publish(message: unknown): Promise<Ack> {
    checkMessage(message);
    return this.request((auth) => ({ event: 'talk_with', auth, message }), ackOf);
  }

  /** Sends `message` to every member, this client included. */
  broadcast(message: unknown): Promise<Ack> {
    checkMessage(message);
    return this.request((auth) => ({ event: 'broadcast', auth, message }), ackOf);
  }

  /**
   * Sends `message` to the named members only. Rejects with `no_such_user` (its `user` naming who)
   * when a name is not in the channel; the other names still get the message.
   */
  to(users: string | string[], message: unknown): Promise<Ack> {
    const names = typeof users === 'string' ? [users] : users;
    if (names.length === 0 || !names.every((n) => typeof n === 'string' && n !== '')) throw new TypeError('to() needs a user name or a non-empty list of names');
    checkMessage(message);
    return this.request((auth) => ({ event: 'talk_with', auth, message, with_clients: names }), ackOf);
  }

  /** The members of the channel, in the order they joined. */
  users(): Promise<string[]> {
    return this.request((auth) => ({ event: 'user_list', auth }), (reply) => (reply.event === 'user_list' ? reply.users : undefined));
  }

  /**
   * Closes the connection with 1000 and stops reconnecting; requests still waiting fail with
   * `client_offline`. Resolves once the socket is closed. Calling it again is harmless.
   */
  close(): Promise<void> {
    const socket = this.socket;
    if (this.current.state !== 'offline') this.stop(NORMAL_CLOSE, 'closed by the client');
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => {
      socket.onclose = () => resolve();
      socket.close(NORMAL_CLOSE, 'bye');
    });
  }

  private request<T>(frame: (token: string | null) => Frame, read: (reply: Incoming) => T | undefined): Promise<T> {
    const state = this.current.state;
    if (state === 'idle' || state === 'offline') {
      const why = state === 'idle' ? 'call connect() first' : this.current.reason;
      return Promise.reject(new RoomsError('client_offline', `the client is offline: ${why}`));
    }
    const id = this.newId();
    const timeout = this.options.requestTimeout;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RoomsError('request_timeout', `no reply to request ${id} within ${timeout} ms`));
      }, timeout);
      const entry: Pending = {
        frame,
        reply: (reply) => {
          const value = read(reply);
          if (value === undefined) return false;
          clearTimeout(timer);
          clearTimeout(entry.resend);
          resolve(value);
          return true;
        },
        fail: (error) => {
          clearTimeout(timer);
          clearTimeout(entry.resend);
          reject(error);
        },
      };
      this.pending.set(id, entry);
      if (this.current.state === 'live') this.transmit(id, entry);
    });
  }

  private transmit(id: RequestId, entry: Pending): void {
    clearTimeout(entry.resend);
    entry.resend = undefined;
    this.socket?.send(JSON.stringify({ ...entry.frame(this.connectionToken), id }));
  }

  private async open(): Promise<void> {
    this.retryTimer = null;
    this.setState({ state: 'connecting', attempt: this.attempt });
    let Socket;
    let jwt: string | undefined;
    try {
      Socket = await socketConstructor();
      const token = this.options.token;
      jwt = typeof token === 'function' ? await token() : token;
    } catch (err) {
      if (this.current.state === 'connecting') this.retry(DROPPED, `could not prepare the connection: ${(err as Error).message}`);
      return;
    }
    // close() may have been called while the token was fetched.
    if (this.current.state !== 'connecting') return;
    let socket: SocketLike;
    try {
      socket = new Socket(this.url);
    } catch (err) {
      return this.stop(DROPPED, (err as Error).message, new RoomsError('upgrade_refused', `cannot connect to ${this.url}: ${(err as Error).message}`));
    }
    this.socket = socket;
    this.socketError = null;
    this.lastError = null;
    socket.onopen = () => this.opened(socket, jwt);
    socket.onmessage = (event) => {
      if (this.socket === socket) this.received(event.data);
    };
    socket.onerror = (event) => {
      if (this.socket === socket) this.socketError = event.message ?? null;
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.dropped(event.code, event.reason, refusalOf(socket));
    };
    this.connectTimer = setTimeout(() => this.abandon(socket, `not connected within ${this.options.connectTimeout} ms`), this.options.connectTimeout);
  }

  private opened(socket: SocketLike, jwt: string | undefined): void {
    if (this.socket !== socket) return;
    this.lastTraffic = Date.now();
    this.authId = this.newId();
    const auth: Frame = { event: 'auth', id: this.authId, presence: this.options.presence };
    if (this.options.user !== undefined) auth.user = this.options.user;
    if (jwt !== undefined) auth.token = jwt;
    this.sentSince = this.position !== null;
    this.askedHistory = !this.everLive && this.position === null && this.options.history > 0;
    if (this.position !== null) {
      auth.since = this.position.seq;
      auth.epoch = this.position.epoch;
    } else if (this.askedHistory) {
      // since 0 without an epoch: the server replays what its history holds.
      auth.since = 0;
    }
    this.authFrame = JSON.stringify(auth);
    socket.send(this.authFrame);
  }

  /**
   * The server could not claim the name just now (its cluster store did not answer): the same auth
   * goes again on the same socket after minDelay, until it is answered or connectTimeout gives the
   * socket up.
   */
  private authAgain(): void {
    const socket = this.socket;
    const frame = this.authFrame;
    if (socket === null || frame === null) return;
    setTimeout(() => {
      if (this.socket === socket && this.authFrame === frame && this.current.state !== 'live') socket.send(frame);
    }, this.options.minDelay);
  }

  private received(data: unknown): void {
    this.lastTraffic = Date.now();
    const frame = parseIncoming(data);
    if (frame === null) return;
    switch (frame.event) {
      case 'token':
        if (frame.re === this.authId) this.authenticated(frame);
        return;
      case 'message':
        return this.deliver(frame.message);
      case 'join':
      case 'leave':
        return this.emit(frame.event, frame.user);
      case 'ack':
        return this.answer(frame.re, frame);
      case 'user_list':
        if (frame.re !== undefined && frame.re === this.probeId) this.probeId = null;
        else if (frame.re !== undefined) this.answer(frame.re, frame);
        return;
      case 'error':
        return this.serverError(frame);
    }
  }

  private authenticated(frame: Extract<Incoming, { event: 'token' }>): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.connectionToken = frame.token;
    const recovered = this.sentSince && frame.recovered === true;
    // Without a recovery the replay will not come: start counting from where the channel is now,
    // or `history` messages before it when the replay brings the channel's last ones.
    const back = this.askedHistory ? this.options.history : 0;
    if (!recovered) this.position = frame.epoch !== undefined && frame.seq !== undefined ? { epoch: frame.epoch, seq: Math.max(frame.seq - back, 0) } : null;
    const reconnected = this.everLive;
    this.everLive = true;
    this.attempt = 0;
    this.probeId = null;
    this.setState({ state: 'live', ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }), ...(frame.seq === undefined ? {} : { seq: frame.seq }) });
    this.startIdleCheck();
    if (reconnected) this.emit('recovered', { recovered, ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }), ...(frame.seq === undefined ? {} : { seq: frame.seq }) });
    for (const [id, entry] of this.pending) this.transmit(id, entry);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private deliver(message: ChatMessage): void {
    // Messages without seq (local-only deliveries) or epoch cannot be resumed from: deliver, do not track.
    if (message.seq !== undefined && message.epoch !== undefined) {
      const position = this.position;
      if (position !== null && position.epoch === message.epoch && message.seq <= position.seq) return;
      this.position = { epoch: message.epoch, seq: message.seq };
    }
    this.emit('message', message);
  }

  private answer(re: RequestId, frame: Incoming): void {
    const entry = this.pending.get(re);
    if (entry !== undefined && entry.reply(frame)) this.pending.delete(re);
  }

  private serverError(frame: Extract<Incoming, { event: 'error' }>): void {
    const error = new RoomsError(frame.code, frame.message, { user: frame.user, retryAfterMs: frame.retryAfterMs });
    const entry = frame.re === undefined ? undefined : this.pending.get(frame.re);
    if (entry !== undefined && frame.re !== undefined) {
      // Dropped by the rate limit, so not carried out: the same request goes again (with its id)
      // once the server allows it, within requestTimeout.
      if (error.code === 'rate_limited') return this.resendLater(frame.re, entry, frame.retryAfterMs ?? this.options.minDelay);
      this.pending.delete(frame.re);
      return entry.fail(error);
    }
    // The name could not be claimed yet: asked again (authAgain), not news for the application.
    if (frame.re !== undefined && frame.re === this.authId && error.code === 'unavailable') return this.authAgain();
    this.lastError = error;
    // A name taken on a reconnection is retried (see dropped): not news for the application.
    if (frame.re !== undefined && frame.re === this.authId && error.code === 'name_taken' && this.everLive) return;
    this.emit('error', error);
  }

  private resendLater(id: RequestId, entry: Pending, wait: number): void {
    clearTimeout(entry.resend);
    entry.resend = setTimeout(() => {
      entry.resend = undefined;
      if (this.pending.get(id) === entry && this.current.state === 'live') this.transmit(id, entry);
    }, wait);
  }

  private dropped(code: number, reason: string, refusal: Refusal | undefined): void {
    this.detach();
    if (refusal !== undefined) {
      const refused = refusal.status;
      const why = refusal.line === '' ? `HTTP ${refused}` : `HTTP ${refused}: ${refusal.line}`;
      if (refused >= 400 && refused < 500 && refused !== 408 && refused !== 429) {
        return this.stop(code, why, new RoomsError('upgrade_refused', `the server refused the connection with HTTP ${refused}`));
      }
      return this.retry(code, why);
    }
    // A name taken on a reconnection is most likely this client's own previous connection, which
    // the server has not yet seen drop: it frees the name within a heartbeat or two.
    const ownGhost = code === CLOSES.name_taken.code && this.everLive;
    if (!ownGhost && !reconnects(code)) {
      return this.stop(code, reason, this.lastError ?? new RoomsError('client_offline', `the server closed the connection with ${code} ${reason}`));
    }
    this.retry(code, reason || (this.socketError ?? 'connection dropped'));
  }

  /** Gives up on a socket that does not answer: forgets it without waiting for a close handshake. */
  private abandon(socket: SocketLike, reason: string): void {
    if (this.socket !== socket) return;
    this.detach();
    if (socket.terminate !== undefined) socket.terminate();
    else socket.close();
    this.retry(DROPPED, reason);
  }

  private retry(code: number, reason: string): void {
    const delay = backoffDelay(this.attempt, this.options);
    this.attempt += 1;
    this.setState({ state: 'reconnecting', attempt: this.attempt, delay, at: Date.now() + delay, code, reason });
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }

  /** Goes offline for good: no more attempts, and everything waiting fails. */
  private stop(code: number, reason: string, error?: RoomsError): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.detach();
    this.setState({ state: 'offline', code, reason, ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }) });
    const failure = new RoomsError('client_offline', `the client is offline: ${reason}`);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const entry of pending) entry.fail(failure);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(error ?? failure);
  }

  /** Lets go of the current socket and the timers that watch it. */
  private detach(): void {
    const socket = this.socket;
    this.socket = null;
    this.connectionToken = null;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.idleTimer = null;
    if (socket === null) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // ws throws an 'error' nobody listens to (an abort during the handshake): keep one listener.
    socket.onerror = ignore;
  }

  private startIdleCheck(): void {
    const idle = this.options.idleTimeout;
    this.idleTimer = setInterval(() => {
      const socket = this.socket;
      if (socket === null || this.current.state !== 'live') return;
      const silent = Date.now() - this.lastTraffic;
      if (silent >= idle) return this.abandon(socket, `no traffic for ${idle} ms`);
      if (silent >= idle / 2 && this.probeId === null) {
        this.probeId = this.newId();
        socket.send(JSON.stringify({ event: 'user_list', auth: this.connectionToken, id: this.probeId }));
      }
    }, Math.max(10, Math.floor(idle / 4)));
    // The socket keeps a Node process alive while connected; this check must not on its own.
    unref(this.idleTimer);
  }

  private setState(state: ClientState): void {
    this.current = state;
    this.emit('state', state);
  }

  private newId(): string {
    const id = `${this.idPrefix}.${this.nextId}`;
    this.nextId += 1;
    return id;
  }
}

function ackOf(reply: Incoming): Ack | undefined {
  if (reply.event !== 'ack') return undefined;
  return { ...(reply.seq === undefined ? {} : { seq: reply.seq }), duplicate: reply.duplicate, local: reply.local };
}

function checkMessage(message: unknown): void {
  if (message === undefined) throw new TypeError('message is required: any JSON value');
}

function randomPrefix(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

function ignore(): void {}
