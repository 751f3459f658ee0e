import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import type { Identity, JwtVerifier } from '../auth/jwt.js';
import { sameToken, type TokenSigner } from '../auth/token.js';
import { channelKey, type Channel } from '../channels/channel.js';
import type { Delivery } from '../channels/delivery.js';
import { Member } from '../channels/member.js';
import { EngineUnavailable, type Engine, type Recovery, type Route } from '../engine/engine.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { textFrame } from '../transport/frame.js';
import type { Outbox } from '../transport/outbox.js';
import { decode, validName } from './decode.js';
import { openEnvelope } from './envelope.js';
import * as encode from './encode.js';
import { guard } from './guard.js';
import type { Request, RequestId } from './messages.js';
import type { RateLimit } from './rate.js';

export interface HandlerOptions {
  authTimeout: number;
  /** The JWT verifier in token mode; null in open mode. */
  jwt: JwtVerifier | null;
  rateLimit: RateLimit;
  maxMessageBytes: number;
  maxRecipients: number;
  /** Milliseconds within which every message is answered (redisTimeout), whatever the store does. */
  answerWithin: number;
  signer: TokenSigner;
  outbox: Outbox;
  engine: Engine;
  delivery: Delivery;
  log: Logger;
  metrics: Metrics;
  /** Told when a named member joins (`added`) or leaves (`removed`) its channel on this node; for webhooks. */
  onMembership: (channel: Channel, user: string, change: 'added' | 'removed') => void;
}

/** What {@link ProtocolHandler.publishFrom} did: the message's seq, or why nothing was sent. */
export type PublishOutcome = { ok: true; seq: number; epoch: string } | { ok: false; missing: string[] } | { ok: false; empty: true };

/** A member that passed `auth`: it has a name and a token. */
type Named = Member & { name: string; token: string };
type Of<E extends Request['event']> = Extract<Request, { event: E }>;

/** The close that `{"event":"close"}` asks for. */
const NORMAL_CLOSE = 1000;
/** The close for a token refused at auth or expired. */
const TOKEN_CLOSE = 4401;
const MAX_TIMER = 2_147_483_647;

/**
 * Protocol v1: takes each connection of a channel from its first frame to its close. One handler
 * serves every connection: the listeners it puts on a socket are made once, not per connection.
 */
export class ProtocolHandler {
  /** Every open connection across all channels. */
  readonly members = new Set<Member>();
  /** Open connections per client IP address. */
  readonly perIp = new Map<string, number>();
  private readonly byWs = new WeakMap<WebSocket, Member>();
  private readonly outbox: Outbox;
  private readonly engine: Engine;
  /** The server's logger; the upgrade logs through it too. */
  readonly log: Logger;
  private readonly onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly onClose: (this: WebSocket) => void;
  private readonly onPong: (this: WebSocket) => void;
  private readonly onError: (this: WebSocket, err: Error) => void;

  constructor(private readonly options: HandlerOptions) {
    this.outbox = options.outbox;
    this.engine = options.engine;
    this.log = options.log;
    const handler = this;
    const byWs = this.byWs;
    this.onMessage = function (data, isBinary) {
      const member = byWs.get(this);
      if (member === undefined) return;
      try {
        handler.message(member, toBuffer(data), isBinary);
      } catch (err) {
        // A frame the code did not foresee costs its own connection, never the server.
        handler.log.error({ err, user: member.name }, 'failed to handle a frame');
        handler.fail(member, 'internal_error');
      }
    };
    this.onClose = function () {
      const member = byWs.get(this);
      if (member !== undefined) handler.closed(member);
    };
    this.onPong = function () {
      const member = byWs.get(this);
      if (member !== undefined) member.alive = true;
    };
    this.onError = function (err) {
      // ws closes the connection itself after a protocol error (bad frame, too big, bad UTF-8).
      handler.log.debug({ user: byWs.get(this)?.name, err: err.message }, 'connection error');
    };
  }

  /** Takes a freshly upgraded connection into its channel and starts its auth deadline. */
  open(channel: Channel, ws: WebSocket, socket: Duplex, ip: string, identity: Identity | null): Member {
    const member = new Member(ws, socket, channel, randomBytes(9).toString('base64url'), ip);
    member.identity = identity;
    this.byWs.set(ws, member);
    this.members.add(member);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    if (this.options.rateLimit.enabled) member.bucket = this.options.rateLimit.fresh(Date.now());
    channel.connections.add(member);
    member.authTimer = setTimeout(this.authExpired, this.options.authTimeout, member);
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('pong', this.onPong);
    ws.on('error', this.onError);
    return member;
  }

  /** Sends an error event, and closes the connection when the error's row has a close code. */
  fail(member: Member, code: ErrorCode, details: encode.ErrorDetails = {}): void {
    this.options.metrics.error(code);
    this.send(member, encode.errorEvent(code, details));
    const close = ERRORS[code].close;
    if (close !== undefined) this.close(member, close, details.message ?? ERRORS[code].message);
  }

  /** Closes a connection after whatever was queued for it has been written. */
  close(member: Member, code: number, reason: string): void {
    this.outbox.flushNow(member);
    member.ws.close(code, truncateReason(reason));
  }

  /** Gives up on a member that does not read: closes it as too slow, writing nothing more to it. */
  slow(member: Member): void {
    this.log.warn({ user: member.name, channel: member.channel.id, buffered: member.socket.writableLength }, 'closing a member that is too slow');
    this.options.metrics.slowConsumer();
    member.pending = null;
    member.ws.close(ERRORS.too_slow.close, 'too slow');
  }

  /**
   * Publishes a message from outside the channel (the HTTP API) as a member's message arrives:
   * through the engine, so it reaches the channel's members on every node and takes the next seq.
   * `event`, when given, replaces `"message"` as the event name (the caller checks it does not
   * clash with a protocol event). With `to`, either every name is in the channel and the message
   * goes to them, or nothing is sent and the missing names come back. A channel with no named
   * member on any node gets nothing (`empty`).
   * @throws EngineUnavailable when the store cannot be reached
   */
  async publishFrom(path: string, id: string, from: string, message: unknown, to: string[] | undefined, event?: string): Promise<PublishOutcome> {
    const key = channelKey(path, id);
    const names = new Set(await this.engine.members(key));
    if (names.size === 0) return { ok: false, empty: true };
    const unique = to === undefined ? undefined : [...new Set(to)];
    const missing = unique?.filter((name) => !names.has(name)) ?? [];
    if (missing.length > 0) return { ok: false, missing };
    const route: Route = unique === undefined ? { from, echo: true } : { from, to: unique, echo: false };
    const published = await this.engine.publish(key, { head: encode.messageHead(message, from, id, event), tail: encode.messageTail(Date.now()), route });
    return { ok: true, seq: published.seq, epoch: published.epoch };
  }

  private send(member: Member, json: string): void {
    const frame = textFrame(json);
    this.options.metrics.delivered(encode.eventOf(json), 1, frame.length);
    this.outbox.send(member, frame);
  }

  /** Runs async work for a connection: a failure in it costs that connection (internal_error, 1011), logged once. */
  private guard(member: Member, what: string, work: () => Promise<void>): void {
    const context = (): Record<string, unknown> => ({ user: member.name, channel: member.channel.id, connection: member.connection });
    guard(this.log, what, context, work, () => this.fail(member, 'internal_error'));
  }

  private readonly authExpired = (member: Member): void => {
    member.authTimer = null;
    if (member.name === null && !member.admitting) this.fail(member, 'auth_timeout');
  };

  private message(member: Member, data: Buffer, isBinary: boolean): void {
    if (member.bucket !== null) {
      const verdict = this.options.rateLimit.take(member.bucket, Date.now());
      if (verdict.act !== 'pass') this.options.metrics.error('rate_limited');
      if (verdict.act === 'close') return this.close(member, ERRORS.rate_limited.close!, 'rate limited');
      if (verdict.act === 'refuse') {
        if (verdict.warn) this.send(member, encode.errorEvent('rate_limited', { retryAfterMs: verdict.retryAfterMs }));
        return;
      }
    }
    if (data.length > this.options.maxMessageBytes) {
      const message = `message too long: ${data.length} bytes, the limit is ${this.options.maxMessageBytes}`;
      return this.fail(member, 'message_too_long', { message });
    }
    if (isBinary) {
      this.options.metrics.messageIn(member.envelope ? 'envelope' : 'binary', data.length);
      if (!isNamed(member)) return this.fail(member, 'not_authenticated');
      if (member.envelope) {
        // Seed 000: a ChatMessage envelope is a broadcast, the sender's copy included.
        const opened = openEnvelope(data);
        if (!opened.ok) return this.fail(member, 'bad_envelope', { message: opened.reason });
        return this.post(member, { message: opened.message }, { from: member.name, echo: true });
      }
      // Seed C1: binary frames are opaque and go to the other members unchanged.
      return this.engine.signal(member.channel.key, { kind: 'binary', data, except: member.name });
    }
    const decoded = decode(data.toString());
    this.options.metrics.messageIn(decoded.ok ? decoded.request.event : 'invalid', data.length);
    if (!decoded.ok) return this.fail(member, decoded.code, { message: decoded.message, re: decoded.id });
    this.dispatch(member, decoded.request);
  }

  private dispatch(member: Member, request: Request): void {
    switch (request.event) {
      case 'auth':
        return this.auth(member, request);
      case 'refresh':
        return this.guard(member, 'to refresh a token', () => this.refresh(member, request));
      case 'close':
        return this.close(member, NORMAL_CLOSE, 'bye');
      case 'error':
        // The seed's client answers every event it does not know with an error event: log, never answer.
        this.log.info({ user: member.name, message: request.message }, 'client reported an error');
        return;
    }
    if (!isNamed(member)) return this.fail(member, 'not_authenticated', { re: request.id });
    const required = request.event === 'user_list' || request.event === 'talk_with';
    if (request.auth === undefined && required) {
      return this.fail(member, 'bad_token', { message: 'auth error,no token', re: request.id });
    }
    if (request.auth !== undefined && !sameToken(request.auth, member.token)) {
      return this.fail(member, 'bad_token', { re: request.id });
    }
    switch (request.event) {
      case 'user_list':
        return this.guard(member, 'to list the users', () => this.userList(member, request.id));
      case 'talk_with':
        return request.to === undefined ? this.publish(member, request, false) : this.direct(member, request, request.to);
      case 'broadcast':
        return this.publish(member, request, true);
      case 'helloworld':
        this.engine.signal(member.channel.key, { kind: 'text', json: encode.helloworldEvent(request.message) });
        if (request.id !== undefined) this.send(member, encode.ackEvent(request.id));
        return;
    }
  }

  private auth(member: Member, request: Of<'auth'>): void {
    if (member.name !== null || member.verifying || member.admitting) return this.fail(member, 'already_authenticated', { re: request.id });
    const jwt = this.options.jwt;
    if (jwt === null) {
      if (request.user === undefined) return this.fail(member, 'invalid_name', { message: 'auth error,no user', re: request.id });
      return this.admit(member, request.user, request);
    }
    // Token mode: the name comes from a token, given at the upgrade or in this auth event.
    if (member.identity !== null) return this.admitIdentity(member, member.identity, request);
    if (request.token === undefined) {
      return this.refuseToken(member, 'auth error,no token: this server needs a token from your application', request);
    }
    member.verifying = true;
    const token = request.token;
    this.guard(member, 'to verify a token', () => jwt.verify(token, member.channel.path, member.channel.id).then((verified) => {
      member.verifying = false;
      if (member.ws.readyState !== WebSocket.OPEN) return;
      if (!verified.ok) return this.refuseToken(member, verified.reason, request);
      this.admitIdentity(member, verified.identity, request);
    }));
  }

  private admitIdentity(member: Member, identity: Identity, request: Of<'auth'>): void {
    const name = validName(identity.user);
    if (name === null) return this.refuseToken(member, 'bad token: its sub is not a valid user name', request);
    member.identity = identity;
    this.admit(member, name, request);
    this.scheduleExpiry(member);
  }

  private refuseToken(member: Member, reason: string, request: { id?: RequestId }): void {
    this.options.metrics.error('bad_token');
    this.send(member, encode.errorEvent('bad_token', { message: reason, re: request.id }));
    this.close(member, TOKEN_CLOSE, reason);
  }

  private admit(member: Member, name: string, request: Of<'auth'>): void {
    const channel = member.channel;
    if (channel.members.has(name) || channel.admitting.has(name)) return this.fail(member, 'name_taken', { re: request.id });
    member.admitting = true;
    channel.admitting.add(name);
    this.guard(member, 'to claim a name', () => this.claim(member, name, request).finally(() => {
      channel.admitting.delete(name);
      member.admitting = false;
      // The auth deadline passed while the name was being claimed, and the claim failed.
      if (member.name === null && member.authTimer === null && member.ws.readyState === WebSocket.OPEN) this.fail(member, 'auth_timeout');
    }));
  }

  /**
   * Claims the name on every node, then answers with the token and where the channel stands, then
   * replays what the client missed since `since`. Publications that arrive meanwhile are held for
   * the member and follow the replay, so the client sees no gap and no duplicate.
   */
  private async claim(member: Member, name: string, request: Of<'auth'>): Promise<void> {
    const channel = member.channel;
    const since = request.since ?? member.resume?.since ?? null;
    const epoch = request.epoch ?? member.resume?.epoch ?? null;
    await channel.ready;
    let joined: boolean;
    try {
      joined = await this.engine.join(channel.key, name, since !== null);
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err;
      // Cut off from the store: this node's own members decide, and the name is claimed again once
      // it is back. A store that is up but failed this once must not let two nodes admit one name.
      if (this.engine.up) return this.fail(member, 'unavailable', { message: 'cluster store did not answer: send auth again', re: request.id });
      joined = true;
      this.engine.signal(channel.key, { kind: 'join', user: name });
    }
    if (member.ws.readyState !== WebSocket.OPEN) {
      if (joined) await this.engine.leave(channel.key, name);
      return;
    }
    if (!joined) return this.fail(member, 'name_taken', { re: request.id });
    if (member.authTimer !== null) clearTimeout(member.authTimer);
    member.authTimer = null;
    member.name = name;
    member.presence = request.presence;
    member.token = this.options.signer.sign({ path: channel.path, channel: channel.id, user: name, connection: member.connection });
    member.held = [];
    channel.members.set(name, member);
    channel.lastActivity = Date.now();
    this.options.onMembership(channel, name, 'added');
    let recovery: Recovery | null = null;
    try {
      recovery = await this.engine.recover(channel.key, since, epoch);
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err;
      // Where the channel stands is unknown: the reply says only what this node knows.
    }
    if (member.ws.readyState !== WebSocket.OPEN) return;
    if (recovery !== null && channel.seq === null) {
      // The first member here: from now on a jump past this seq is a gap this node must fill.
      channel.epoch = recovery.epoch;
      channel.seq = recovery.seq;
    }
    const resumed = since === null ? undefined : (recovery?.recovered ?? false);
    if (resumed !== undefined) this.options.metrics.resume(resumed ? 'recovered' : 'not_recovered');
    const standing = recovery ?? { epoch: channel.epoch ?? undefined, seq: channel.seq ?? 0 };
    this.send(member, encode.tokenEvent(member.token, request.id, { epoch: standing.epoch, seq: standing.seq, recovered: resumed }));
    this.options.delivery.release(member, standing.epoch ?? null, recovery?.publications ?? [], standing.seq);
  }

  /** The names in the channel on every node; this node's alone while the store is unreachable. */
  private async userList(member: Named, re: RequestId | undefined): Promise<void> {
    let names: string[];
    try {
      names = await this.engine.members(member.channel.key);
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err;
      names = [...member.channel.members.keys()];
    }
    this.send(member, encode.userListEvent(names, re));
  }

  /** A fresh token for the same user pushes the connection's expiry back. */
  private async refresh(member: Member, request: Of<'refresh'>): Promise<void> {
    const jwt = this.options.jwt;
    if (jwt === null || member.identity === null || member.name === null) {
      const message = jwt === null ? 'this server does not use tokens (authMode open)' : 'send auth before refresh';
      return this.fail(member, jwt === null ? 'bad_token' : 'not_authenticated', { message, re: request.id });
    }
    const verified = await jwt.verify(request.token, member.channel.path, member.channel.id);
    if (member.ws.readyState !== WebSocket.OPEN) return;
    if (!verified.ok) return this.fail(member, 'bad_token', { message: verified.reason, re: request.id });
    if (verified.identity.user !== member.identity.user) {
      return this.fail(member, 'bad_token', { message: `bad token: it is for ${verified.identity.user}, not ${member.identity.user}`, re: request.id });
    }
    member.identity = verified.identity;
    this.scheduleExpiry(member);
    this.send(member, encode.refreshEvent(verified.identity.exp, request.id));
  }

  /** Closes the member with 4401 "token expired" when its token's exp passes. */
  private scheduleExpiry(member: Member): void {
    if (member.expiryTimer !== null) clearTimeout(member.expiryTimer);
    member.expiryTimer = null;
    const exp = member.identity?.exp ?? null;
    if (exp === null) return;
    // setTimeout holds at most about 24 days; a later expiry is checked again then.
    const wait = Math.min(exp * 1000 - Date.now(), MAX_TIMER);
    member.expiryTimer = setTimeout(this.expire, Math.max(wait, 0), member);
  }

  private readonly expire = (member: Member): void => {
    member.expiryTimer = null;
    const exp = member.identity?.exp ?? null;
    if (exp !== null && exp * 1000 > Date.now()) return this.scheduleExpiry(member);
    this.options.metrics.error('token_expired');
    this.send(member, encode.errorEvent('token_expired'));
    this.close(member, TOKEN_CLOSE, 'token expired');
  };

  /** A message to every member (broadcast) or to every member but the sender (the seed's publish). */
  private publish(member: Named, request: Of<'broadcast'> | Of<'talk_with'>, toSender: boolean): void {
    this.post(member, request, { from: member.name, echo: toSender });
  }

  /** A message to the named members only; each name not in the channel gets the sender an error. */
  private direct(member: Named, request: Of<'talk_with'>, names: string[]): void {
    if (names.length > this.options.maxRecipients) {
      const message = `too many recipients: ${names.length}, the limit is ${this.options.maxRecipients}`;
      return this.fail(member, 'too_many_recipients', { message, re: request.id });
    }
    const unique = [...new Set(names)];
    if (unique.every((name) => member.channel.members.has(name))) return this.post(member, request, { from: member.name, to: unique, echo: false });
    this.guard(member, 'to look up the recipients', () => this.directAcross(member, request, unique));
  }

  /** A direct message naming members this node does not hold: asks who is in the channel on every node. */
  private async directAcross(member: Named, request: Of<'talk_with'>, names: string[]): Promise<void> {
    let present: Set<string>;
    try {
      present = new Set(await this.engine.members(member.channel.key));
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err;
      present = new Set(member.channel.members.keys());
    }
    const to: string[] = [];
    for (const name of names) {
      if (present.has(name)) to.push(name);
      else this.fail(member, 'no_such_user', { message: `user ${member.name} send to ${name} error`, user: name, re: request.id });
    }
    if (to.length > 0) this.post(member, request, { from: member.name, to, echo: false });
  }

  /**
   * Publishes a message through the engine, which gives it its seq and delivers it on every node;
   * the ack follows the sender's own copy. Once the node is cut off from the store, the message
   * goes to this node's members only, without a seq, and the ack says `local`. (Until then, a
   * failed publish is refused with `unavailable`: what the store ordered before it failed may still
   * arrive, and a local message must not overtake it.)
   */
  private post(member: Named, request: { id?: RequestId; message: unknown }, route: Route): void {
    const channel = member.channel;
    const head = encode.messageHead(request.message, member.name, channel.id);
    const tail = encode.messageTail(Date.now());
    const re = request.id;
    const dedup = re === undefined ? undefined : `${member.name}\0${String(re)}`;
    if (re !== undefined && dedup !== undefined) {
      // Delivered here already, maybe in an epoch whose ids the store has since lost: not again.
      const known = this.options.delivery.recall(channel, dedup);
      if (known !== undefined) return this.send(member, encode.ackEvent(re, known.seq === null ? { duplicate: true, local: true } : { seq: known.seq, duplicate: true }));
    }
    const sent: Route = dedup === undefined ? route : { ...route, dedup };
    if (this.engine.isolated) {
      this.options.delivery.local(channel, head + tail, sent);
      if (re !== undefined) this.send(member, encode.ackEvent(re, { local: true }));
      return;
    }
    // Every answer comes within redisTimeout: the publish times out by then, and so does the wait for
    // this node's own copy (a sender is never acked before its own copy is delivered here).
    const deadline = Date.now() + this.options.answerWithin;
    this.guard(member, 'to publish a message', () => this.engine.publish(channel.key, { head, tail, route: sent }).then(
      (published) => {
        if (re === undefined) return;
        if (published.duplicate) return this.send(member, encode.ackEvent(re, { seq: published.seq, duplicate: true }));
        const ack = (): void => this.send(member, encode.ackEvent(re, { seq: published.seq }));
        channel.afterDelivered(published.epoch, published.seq, ack, () => this.fail(member, 'unavailable', { re }), deadline - Date.now());
      },
      () => this.fail(member, 'unavailable', { re }),
    ));
  }

  private closed(member: Member): void {
    this.byWs.delete(member.ws);
    this.members.delete(member);
    const fromIp = (this.perIp.get(member.ip) ?? 1) - 1;
    if (fromIp === 0) this.perIp.delete(member.ip);
    else this.perIp.set(member.ip, fromIp);
    this.outbox.discard(member);
    if (member.authTimer !== null) clearTimeout(member.authTimer);
    member.authTimer = null;
    if (member.expiryTimer !== null) clearTimeout(member.expiryTimer);
    member.expiryTimer = null;
    const channel = member.channel;
    channel.connections.delete(member);
    if (member.name !== null && channel.members.get(member.name) === member) {
      channel.members.delete(member.name);
      channel.lastActivity = Date.now();
      member.held = null;
      const name = member.name;
      this.guard(member, 'to leave the channel', () => this.engine.leave(channel.key, name));
      this.options.onMembership(channel, member.name, 'removed');
    }
  }
}

function isNamed(member: Member): member is Named {
  return member.name !== null && member.token !== null;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Close reasons are limited to 123 bytes by the protocol. */
function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason);
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString();
}
