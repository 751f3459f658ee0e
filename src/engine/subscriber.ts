import calculateSlot from 'cluster-key-slot';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';

/** What a subscriber tells the engine. */
export interface SubscriberEvents {
  /** Every topic that was subscribed is subscribed again: what was missed meanwhile can be read from history. */
  ready(): void;
  /** A topic that was subscribed no longer is (its connection closed, or its slot moved): what is published there may not arrive. */
  lost(): void;
  error(err: Error): void;
  message(topic: string, message: Buffer): void;
}

/**
 * Where publications come from: one connection subscribed to every topic (SUBSCRIBE, on one Redis
 * or a Sentinel's master), or on a Redis Cluster one connection per shard, each topic subscribed
 * (SSUBSCRIBE) on the shard that owns its slot.
 */
export interface Subscriber {
  /** No topic that was subscribed has lost its subscription since. */
  readonly ready: boolean;
  /** The connections now: to tell answers about older ones apart, and to see which servers they are on. */
  readonly connections: readonly Redis[];
  connect(): void;
  /**
   * Subscribes to a topic. `awaited`: the caller waits for the promise (resolved once subscribed, or
   * after the timeout, the subscription then counted as lost); else the subscriber is not ready
   * until the topic is subscribed.
   */
  subscribe(topic: string, awaited: boolean): Promise<void>;
  unsubscribe(topic: string): void;
  /**
   * A connection that died without closing would leave this node deaf while it looks up: PINGs
   * each one, and drops one that does not answer within the timeout, calling `stalled`.
   */
  probe(stalled: (reason: string) => void): void;
  /**
   * Drops a connection whose handshake, or whose subscriptions, Redis has not answered within the
   * timeout: one made in the middle of a partition can hang like any other.
   */
  dropStalled(): void;
  /** Drops every connection at once, without a goodbye a dead link would never carry; each connects again. */
  drop(): void;
  disconnect(): void;
}

const STALLED_PING = 'redis did not answer a PING on a subscriber connection within redisTimeout';
/**
 * How ioredis's error begins when a reply matched no command: on a shard, the SUNSUBSCRIBE that
 * Redis sends unasked when a slot moves away, which ioredis takes for a reply.
 */
const UNASKED_REPLY = 'Command queue state error';

/** Destroys a connection's socket at once; ioredis connects it again. */
export function destroy(client: Redis): void {
  if (client.status === 'ready' || client.status === 'connect') client.stream.destroy();
}

/** PINGs `client`, dropping it and calling `stalled` when no answer comes within `timeout`. */
function ping(client: Redis, timeout: number, stalled: (reason: string) => void): void {
  const stream = client.stream;
  const timer = setTimeout(() => {
    if (client.stream !== stream) return;
    destroy(client);
    stalled(STALLED_PING);
  }, timeout);
  timer.unref();
  client.ping().then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
}

/** One connection, SUBSCRIBEd to every topic; ioredis subscribes again after each reconnection. */
export class TopicSubscriber implements Subscriber {
  /** Its subscriptions are in place: a PING sent after ioredis restored them was answered. */
  private confirmed = false;
  /** When its socket connected or became ready, to drop one whose handshake or first PING never comes. */
  private since: number | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly timeout: number,
    events: SubscriberEvents,
  ) {
    redis.on('connect', () => (this.since = Date.now()));
    // Subscriptions are restored by ioredis after 'ready' fires; a PING sent after them answers
    // once they are all in place, and only then can a history read miss nothing.
    redis.on('ready', () => {
      this.since = Date.now();
      const stream = redis.stream;
      setImmediate(() => {
        redis.ping().then(
          () => {
            this.confirmed = redis.status === 'ready' && !stream.destroyed;
            if (this.confirmed) events.ready();
          },
          () => undefined,
        );
      });
    });
    redis.on('close', () => {
      this.since = null;
      this.confirmed = false;
      events.lost();
    });
    redis.on('error', (err: Error) => events.error(err));
    redis.on('messageBuffer', (topic: Buffer, message: Buffer) => events.message(topic.toString(), message));
  }

  get ready(): boolean {
    return this.confirmed;
  }

  get connections(): readonly Redis[] {
    return [this.redis];
  }

  connect(): void {
    this.redis.connect().catch(() => undefined);
  }

  async subscribe(topic: string): Promise<void> {
    // While the connection is down the SUBSCRIBE waits for it, and the PING that makes this
    // subscriber ready again follows it.
    await this.redis.subscribe(topic).catch(() => undefined);
  }

  unsubscribe(topic: string): void {
    void this.redis.unsubscribe(topic).catch(() => undefined);
  }

  probe(stalled: (reason: string) => void): void {
    if (this.confirmed) ping(this.redis, this.timeout, stalled);
  }

  dropStalled(): void {
    const stalled = this.redis.status === 'connect' || (this.redis.status === 'ready' && !this.confirmed);
    if (stalled && this.since !== null && Date.now() - this.since > this.timeout) destroy(this.redis);
  }

  drop(): void {
    this.confirmed = false;
    destroy(this.redis);
  }

  disconnect(): void {
    this.redis.disconnect();
  }
}

/** A connection to one cluster node, and the topics whose slots that node serves. */
interface Shard {
  redis: Redis;
  /** Every topic placed here. */
  topics: Set<string>;
  /** The topics whose SSUBSCRIBE this connection answered since it last connected. */
  live: Set<string>;
  /** The topics whose SSUBSCRIBE is unanswered, and when each was sent. */
  asked: Map<string, number>;
  /** When its socket connected, while its handshake is under way. */
  connectedAt: number | null;
}

/**
 * Sharded Pub/Sub on a Redis Cluster: every topic is SSUBSCRIBEd on the master that owns its slot,
 * by a connection of its own per master (a published message goes to that shard only). The slots
 * come from the command connection's map, which ioredis refreshes on MOVED, on a node's failure,
 * and whenever the engine asks; after each refresh a topic whose slot moved (a failover, a slot
 * migration) is subscribed at its new owner. A topic that was subscribed and lost its subscription,
 * through a closed connection or a move, makes the subscriber not ready until it is subscribed
 * again, so the engine fills from history whatever was published meanwhile.
 */
export class ShardSubscriber implements Subscriber {
  private readonly shards = new Map<string, Shard>();
  /** Every topic, and the node key of the shard it is placed on (null while no owner is known). */
  private readonly topics = new Map<string, string | null>();
  /** Topics that were subscribed and are not now. */
  private readonly missed = new Set<string>();
  /** Who waits for a topic's first subscription. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: RedisOptions,
    private readonly timeout: number,
    private readonly events: SubscriberEvents,
  ) {
    cluster.on('ready', () => this.place());
    cluster.on('refresh', () => this.place());
  }

  get ready(): boolean {
    return this.missed.size === 0;
  }

  get connections(): readonly Redis[] {
    return [...this.shards.values()].map((s) => s.redis);
  }

  connect(): void {
    this.place();
  }

  subscribe(topic: string, awaited: boolean): Promise<void> {
    if (!this.topics.has(topic)) {
      this.topics.set(topic, null);
      this.placeOne(topic);
    }
    if (this.isLive(topic)) return Promise.resolve();
    if (!awaited) {
      this.miss(topic);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // Not in place within the timeout: lost, so the node is not up until it is.
        if (!this.isLive(topic) && this.topics.has(topic)) this.miss(topic);
        this.woken(topic);
      }, this.timeout);
      timer.unref();
      const list = this.waiting.get(topic) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.waiting.set(topic, list);
    });
  }

  unsubscribe(topic: string): void {
    const key = this.topics.get(topic);
    this.topics.delete(topic);
    this.woken(topic);
    if (key !== undefined && key !== null) this.detach(topic, key);
    if (this.missed.delete(topic) && this.missed.size === 0) this.events.ready();
  }

  probe(stalled: (reason: string) => void): void {
    for (const shard of this.shards.values()) if (shard.live.size > 0) ping(shard.redis, this.timeout, stalled);
  }

  dropStalled(): void {
    const now = Date.now();
    for (const shard of this.shards.values()) {
      const handshake = shard.redis.status === 'connect' && shard.connectedAt !== null && now - shard.connectedAt > this.timeout;
      const unanswered = [...shard.asked.values()].some((at) => now - at > this.timeout);
      if (handshake || unanswered) destroy(shard.redis);
    }
  }

  drop(): void {
    for (const shard of this.shards.values()) {
      this.lose(shard);
      destroy(shard.redis);
    }
  }

  disconnect(): void {
    this.closed = true;
    for (const shard of this.shards.values()) shard.redis.disconnect();
    this.shards.clear();
  }

  /** Places every topic on the shard that owns it now. */
  private place(): void {
    for (const topic of this.topics.keys()) this.placeOne(topic);
  }

  private placeOne(topic: string): void {
    if (this.closed) return;
    const owner = this.cluster.slots[calculateSlot(topic)]?.[0] ?? null;
    const current = this.topics.get(topic) ?? null;
    if (owner === current) return;
    if (current !== null) this.detach(topic, current);
    this.topics.set(topic, owner);
    if (owner === null) return;
    const shard = this.shard(owner);
    shard.topics.add(topic);
    if (shard.redis.status === 'ready') this.ask(shard, topic);
  }

  /** Takes a topic off a shard: a topic that was subscribed there has lost its subscription. */
  private detach(topic: string, key: string): void {
    const shard = this.shards.get(key);
    if (shard === undefined) return;
    shard.topics.delete(topic);
    shard.asked.delete(topic);
    if (shard.live.delete(topic)) this.miss(topic);
    void shard.redis.sunsubscribe(topic).catch(() => undefined);
    if (shard.topics.size > 0) return;
    shard.redis.disconnect();
    this.shards.delete(key);
  }

  private shard(key: string): Shard {
    const existing = this.shards.get(key);
    if (existing !== undefined) return existing;
    const colon = key.lastIndexOf(':');
    // The engine places the topics again after each reconnection: ioredis must not resubscribe on its own.
    const redis = new Redis({ ...this.options, host: key.slice(0, colon), port: Number(key.slice(colon + 1)), autoResubscribe: false, lazyConnect: true });
    const shard: Shard = { redis, topics: new Set(), live: new Set(), asked: new Map(), connectedAt: null };
    this.shards.set(key, shard);
    redis.on('connect', () => (shard.connectedAt = Date.now()));
    redis.on('ready', () => {
      shard.connectedAt = null;
      for (const topic of shard.topics) this.ask(shard, topic);
    });
    redis.on('close', () => {
      shard.connectedAt = null;
      this.lose(shard);
      // The node may have failed over: its slots' new owners come with the next map.
      if (!this.closed) this.cluster.refreshSlotsCache();
    });
    redis.on('error', (err: Error) => {
      // Redis unsubscribed this connection from a slot that moved: drop it, and place its topics anew.
      if (err.message.startsWith(UNASKED_REPLY)) return destroy(redis);
      this.events.error(err);
    });
    // An SSUBSCRIBE answered with MOVED: the map is out of date.
    redis.on('moved', () => this.cluster.refreshSlotsCache());
    redis.on('smessageBuffer', (topic: Buffer, message: Buffer) => this.events.message(topic.toString(), message));
    redis.connect().catch(() => undefined);
    return shard;
  }

  /** SSUBSCRIBEs a topic on its shard; it is live once Redis answers on the same connection. */
  private ask(shard: Shard, topic: string): void {
    const stream = shard.redis.stream;
    shard.asked.set(topic, Date.now());
    shard.redis.ssubscribe(topic).then(
      () => {
        if (shard.redis.stream !== stream || !shard.topics.has(topic) || shard.asked.get(topic) === undefined) return;
        shard.asked.delete(topic);
        shard.live.add(topic);
        this.woken(topic);
        if (this.missed.delete(topic) && this.missed.size === 0) this.events.ready();
      },
      () => undefined,
    );
  }

  /** Every topic subscribed on a shard whose connection went has lost its subscription. */
  private lose(shard: Shard): void {
    shard.asked.clear();
    const lost = [...shard.live];
    shard.live.clear();
    for (const topic of lost) this.miss(topic);
  }

  private miss(topic: string): void {
    if (this.missed.has(topic)) return;
    const first = this.missed.size === 0;
    this.missed.add(topic);
    if (first) this.events.lost();
  }

  private isLive(topic: string): boolean {
    const key = this.topics.get(topic);
    return key !== undefined && key !== null && this.shards.get(key)?.live.has(topic) === true;
  }

  private woken(topic: string): void {
    const list = this.waiting.get(topic);
    this.waiting.delete(topic);
    for (const wake of list ?? []) wake();
  }
}
