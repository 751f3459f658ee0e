import type { Connection } from '../channels/connection.js';
import type { Replies } from '../connections/replies.js';
import { EngineUnavailable, type Engine, type Route } from '../engine/engine.js';
import { say } from '../errors.js';
import * as encode from '../protocol/encode.js';
import type { RequestId } from '../protocol/messages.js';
import { channelKey } from '../channels/channel.js';
import type { Delivery } from '../channels/delivery.js';

export interface PublisherOptions {
  maxRecipients: number;
  /** Milliseconds within which every message is answered (redisTimeout), whatever the store does. */
  answerWithin: number;
  engine: Engine;
  delivery: Delivery;
  replies: Replies;
}

/** A connection that passed `auth`: it has a name and a token. */
export type Named = Connection & { readonly name: string; readonly token: string };

/** A chat message from a member: what it says, and the request id its answer carries. */
export interface Post {
  id?: RequestId;
  message: unknown;
}

/** What {@link Publisher.publishFrom} did: the message's seq, or why nothing was sent. */
export type PublishOutcome = { ok: true; seq: number; epoch: string } | { ok: false; missing: string[] } | { ok: false; empty: true };

/**
 * Everything that publishes into a channel: members' messages to everyone, to everyone else or to
 * named members (on any node), the signals that take no seq (helloworld, opaque binary frames),
 * and the HTTP API's messages. Each goes through the engine, which orders it and delivers it on
 * every node.
 */
export class Publisher {
  private readonly engine: Engine;
  private readonly replies: Replies;

  constructor(private readonly options: PublisherOptions) {
    this.engine = options.engine;
    this.replies = options.replies;
  }

  /** A message to every member (`echo`: the sender too) or to every member but the sender. */
  toAll(member: Named, request: Post, echo: boolean): void {
    this.post(member, request, { from: member.name, echo }, Date.now() + this.options.answerWithin);
  }

  /** A message to the named members only; each name not in the channel gets the sender an error. */
  toNamed(member: Named, request: Post, names: string[]): void {
    if (names.length > this.options.maxRecipients) {
      const message = say('too_many_recipients', { count: names.length, limit: this.options.maxRecipients });
      return this.replies.fail(member, 'too_many_recipients', { message, re: request.id });
    }
    // The answer is due within redisTimeout of the request, the look-up of the recipients included.
    const deadline = Date.now() + this.options.answerWithin;
    const unique = [...new Set(names)];
    if (unique.every((name) => member.channel.members.has(name))) return this.post(member, request, { from: member.name, to: unique, echo: false }, deadline);
    this.replies.guard(member, 'to look up the recipients', () => this.toNamedAcross(member, request, unique, deadline));
  }

  /** helloworld: a text event for every named member, at most once, no seq. */
  helloworld(member: Named, request: Post): void {
    this.engine.signal(member.channel.key, { kind: 'text', json: encode.helloworldEvent(request.message) });
    if (request.id !== undefined) this.replies.send(member, encode.ackEvent(request.id));
  }

  /** An opaque binary frame, relayed unchanged to the other members. */
  binary(member: Named, data: Buffer): void {
    this.engine.signal(member.channel.key, { kind: 'binary', data, except: member.name });
  }

  /**
   * Publishes a message from outside the channel (the HTTP API) as a member's message arrives:
   * through the engine, so it reaches the channel's members on every node and takes the next seq.
   * `event`, when given, replaces `"message"` as the event name (the caller checks it does not
   * clash with a protocol event). With `to`, either every name is in the channel and the message
   * goes to them, or nothing is sent and the missing names come back. A channel with no named
   * member on any node gets nothing (`empty`).
   * @throws EngineUnavailable when the store cannot be reached, or did not answer within redisTimeout
   */
  publishFrom(path: string, id: string, from: string, message: unknown, to: string[] | undefined, event?: string): Promise<PublishOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EngineUnavailable('redis did not answer within redisTimeout')), this.options.answerWithin);
    });
    return Promise.race([this.publishNow(path, id, from, message, to, event), late]).finally(() => clearTimeout(timer));
  }

  private async publishNow(path: string, id: string, from: string, message: unknown, to: string[] | undefined, event?: string): Promise<PublishOutcome> {
    const key = channelKey(path, id);
    const names = new Set(await this.engine.members(key));
    if (names.size === 0) return { ok: false, empty: true };
    const unique = to === undefined ? undefined : [...new Set(to)];
    const missing = unique?.filter((name) => !names.has(name)) ?? [];
    if (missing.length > 0) return { ok: false, missing };
    const route: Route = unique === undefined ? { from, echo: true } : { from, to: unique, echo: false };
    const published = await this.engine.publish(key, { head: encode.messageHead(message, from, id, unique, event), tail: encode.messageTail(Date.now()), route });
    return { ok: true, seq: published.seq, epoch: published.epoch };
  }

  /** A direct message naming members this node does not hold: asks who is in the channel on every node. */
  private async toNamedAcross(member: Named, request: Post, names: string[], deadline: number): Promise<void> {
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
      else this.replies.fail(member, 'no_such_user', { message: `user ${member.name} send to ${name} error`, user: name, re: request.id });
    }
    if (to.length > 0) this.post(member, request, { from: member.name, to, echo: false }, deadline);
  }

  /**
   * Publishes a message through the engine, which gives it its seq and delivers it on every node;
   * the ack follows the sender's own copy. Once the node is cut off from the store, the message
   * goes to this node's members only, without a seq, and the ack says `local`. (Until then, a
   * failed publish is refused with `unavailable`: what the store ordered before it failed may still
   * arrive, and a local message must not overtake it.) Whatever the store does, the message is
   * answered once, by `deadline` at the latest.
   */
  private post(member: Named, request: Post, route: Route, deadline: number): void {
    const channel = member.channel;
    const head = encode.messageHead(request.message, member.name, channel.id, route.to);
    const tail = encode.messageTail(Date.now());
    const re = request.id;
    const dedup = re === undefined ? undefined : `${member.name}\0${String(re)}`;
    if (re !== undefined && dedup !== undefined) {
      // Delivered here already, maybe in an epoch whose ids the store has since lost: not again.
      const known = this.options.delivery.recall(channel, dedup);
      if (known !== undefined) return this.replies.send(member, encode.ackEvent(re, known.seq === null ? { duplicate: true, local: true } : { seq: known.seq, duplicate: true }));
    }
    const sent: Route = dedup === undefined ? route : { ...route, dedup };
    if (this.engine.isolated) {
      this.options.delivery.local(channel, head + tail, sent);
      if (re !== undefined) this.replies.send(member, encode.ackEvent(re, { local: true }));
      return;
    }
    // One answer, by the deadline: an ack once this node delivered the sender's own copy (a sender
    // is never acked before it), or unavailable when the store, or that delivery, takes longer.
    let answered = false;
    let stopWaiting = (): void => undefined;
    if (re !== undefined) this.replies.begin(member);
    const answer = (reply: () => void): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      reply();
      if (re !== undefined) this.replies.end(member);
    };
    const unavailable = (): void => answer(() => this.replies.fail(member, 'unavailable', { re }));
    const late = (): void => {
      stopWaiting();
      unavailable();
    };
    const timer = re === undefined ? undefined : setTimeout(late, Math.max(deadline - Date.now(), 0));
    const seen = channel.epoch !== null && channel.seq !== null ? { epoch: channel.epoch, seq: channel.seq } : undefined;
    this.replies.guard(member, 'to publish a message', () =>
      this.engine.publish(channel.key, { head, tail, route: sent, seen }).then((published) => {
        // The store had gone back in time: what this node delivered past its seq is in no history.
        if (published.behind === true) channel.unsure = true;
        if (re === undefined || answered) return;
        const ack = (): void => answer(() => this.replies.send(member, encode.ackEvent(re, { seq: published.seq, ...(published.duplicate ? { duplicate: true } : {}) })));
        stopWaiting = channel.afterDelivered(published.epoch, published.seq, ack, unavailable);
      }, unavailable),
    );
  }
}
