// Longer than most files here: the Redis engine is one state machine (two connections, their probes,
// the cut and its end) shared by every operation, and splitting it would spread that state.
import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { withoutCredentials, type Logger } from '../log.js';
import {
  EngineUnavailable,
  newEpoch,
  NO_SINK,
  replay,
  type Draft,
  type Engine,
  type EngineOptions,
  type EngineSink,
  type Publication,
  type Published,
  type Recovery,
  type Signal,
} from './engine.js';
import { parseRedisUrl, type RedisClusterTarget, type RedisSentinelTarget, type RedisTarget } from './redis-url.js';
import { isOn, SentinelWatch, type MasterAddress } from './sentinel-watch.js';
import { scripts, type Script } from './scripts.js';
import { destroy, ShardSubscriber, TopicSubscriber, type Subscriber } from './subscriber.js';
import { decodeWire, encodeSignal, parseRoute } from './wire.js';

export interface RedisEngineOptions extends EngineOptions {
  url: string;
  /** Prefix of every key and topic, so several deployments can share one Redis. */
  prefix: string;
  log: Logger;
  /** Milliseconds Redis has to answer a command, a probe or a connection before this node counts as cut off. */
  timeout: number;
}

/** Seq and epoch outlive the history by far, so that an idle channel keeps counting where it was. */
const POSITION_TTL = 7 * 24 * 3_600_000;
/** How long start() waits at least for Redis before the node starts degraded. */
const STARTUP_WAIT = 2_000;
/** A presence hash outlives its channel's last join by this long, so no crash leaves it forever. */
const PRESENCE_TTL = 24 * 3_600_000;
/** TCP keepalive on both connections, so a link that died silently is noticed. */
const KEEPALIVE = 10_000;
/** Reconnect backoff: doubling from this, capped, with jitter so nodes do not come back in step. */
const RETRY_BASE = 100;
const RETRY_CAP = 5_000;
/** The reconnect backoff's cap on Sentinel: a failover is over about when its +switch-master is announced. */
const FAILOVER_RETRY_CAP = 1_000;
/** How ioredis's message begins when no Sentinel named a master, whether they were down or did not know the name. */
const NO_SENTINEL = 'All sentinels are unreachable';
/**
 * Channels one BEAT script beats on one Redis: few calls, yet short scripts (well under 1 ms, and
 * about 4 µs more per name when it removes a dead node's), so other commands run in between.
 */
const BEAT_SLICE = 20;
/** The most messages of one channel one publish script takes, and their most characters (a larger message goes alone). */
const BATCH_MAX = 100;
const BATCH_SIZE = 256 * 1_024;
/** How often the cluster's slot map is read again, besides on MOVED. */
const SLOTS_REFRESH = 5_000;
/** ioredis's message for a command not answered within commandTimeout. */
const COMMAND_TIMED_OUT = 'Command timed out';

/** A message waiting for its batch's script call, and its caller. */
interface Queued {
  draft: Draft;
  resolve: (published: Published) => void;
  reject: (err: unknown) => void;
}

/**
 * The engine for several nodes: one Redis, the master a set of Sentinels names, or a Redis Cluster.
 * Per channel, every key under its hash tag `PREFIX:{CHANNEL}` (one slot of a cluster): `seq` and
 * `epoch` strings, a `log` stream (XADD MAXLEN ~), `seen:` keys for duplicate ids, a `presence`
 * hash (user -> node|joined), the `nodes` with members there (node -> last beat), and a Pub/Sub
 * topic (sharded on a cluster). A node beats each channel it has members in; the others remove it
 * from a channel where it stays silent, with its members.
 *
 * Faults are bounded by `timeout`: a command or a PING (on both connections, every beat) that
 * Redis does not answer in time, or a connection that stays down that long, cuts this node off: both
 * connections are dropped at once (a silent partition never closes them), so nothing ordered earlier
 * can still arrive, and the node is `isolated` until both connections answer again. Meanwhile
 * commands fail at once (no offline queue), signals reach this node only, and ioredis reconnects
 * with backoff. Once back, `state(true)` tells the node to re-join its members and catch up on what
 * it missed.
 */
export class RedisEngine implements Engine {
  readonly kind = 'redis';
  readonly node = randomBytes(6).toString('base64url');
  /** Scripts, signals and probes; on a cluster, ioredis sends each to the shard of its channel. */
  private readonly cmd: Redis | Cluster;
  private readonly sub: Subscriber;
  private readonly scripts: ReturnType<typeof scripts>;
  /** The channels this node has joined members in, beaten until it unsubscribes. */
  private readonly present = new Set<string>();
  /** A node that has not beaten for this long is dead; with beats every `beatEvery`, its members go within presenceTtl. */
  private readonly deadAfter: number;
  private readonly beatEvery: number;
  private readonly topics = new Map<string, string>();
  private cmdReady = false;
  /** Cut off: set when both connections are gone or Redis stopped answering, cleared once both answer again. */
  private cut = true;
  /** Cuts this node off if it is still not up `timeout` after a connection was lost. */
  private watchdog: NodeJS.Timeout | null = null;
  /** When the command connection's socket connected, to drop it if its handshake is never answered. */
  private cmdConnectedAt: number | null = null;
  /** The last `up` told to the sink. */
  private reported = false;
  /** The last `isolated` the sink saw with `state`. */
  private reportedCut = true;
  /** Whether the current outage was logged: once per outage, not per attempt. */
  private warned = false;
  /** The last connection error, for that one log line. */
  private lastError: string | null = null;
  /** The last Sentinel's answer that named no master, to tell a wrong master name from Sentinels that are down. */
  private sentinelError: string | null = null;
  /** `channel \n user` of leaves Redis did not take, removed once it is back. */
  private readonly unleft = new Set<string>();
  private beats: NodeJS.Timeout | null = null;
  private beaten = false;
  /** Fires when the last beat gets too old for the node to count as up, so the sink hears of it. */
  private lapse: NodeJS.Timeout | null = null;
  /** This node's names were removed somewhere (it was swept as silent, or the keys were lost): claim them again once up. */
  private rejoin = false;
  /** When the last beat Redis answered was sent. */
  private beatAt = 0;
  private closed = false;
  private readonly waiters = new Set<(up: boolean) => void>();
  /** On Sentinel: the watch that says when the master changed. */
  private readonly sentinels: SentinelWatch | null;
  /** A beat's question to the Sentinels is still unanswered. */
  private asking = false;

  /** Messages published in this tick and not yet sent, per channel, in order, with their characters. */
  private readonly pending = new Map<string, { batch: Queued[]; size: number }>();
  private flushing: NodeJS.Immediate | null = null;

  private sink: EngineSink = NO_SINK;

  constructor(private readonly options: RedisEngineOptions) {
    const common: RedisOptions = {
      lazyConnect: true,
      keepAlive: KEEPALIVE,
      connectTimeout: options.timeout,
      // CLIENT LIST on a server shows which connections are this node's.
      connectionName: `rooms:${this.node}`,
      retryStrategy: (times) => Math.min(RETRY_BASE * 2 ** Math.min(times, 10), RETRY_CAP) * (0.5 + Math.random() / 2),
    };
    const target = parseRedisUrl(options.url);
    const commands: RedisOptions = { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: options.timeout };
    const events = {
      ready: () => this.changed(),
      lost: () => this.lost(),
      error: (err: Error) => this.failedToConnect(target, err),
      message: (topic: string, message: Buffer) => this.received(topic, message),
    };
    if (target.kind === 'cluster') {
      const cluster = clusterConnection(target, commands, common);
      this.cmd = cluster;
      this.sub = new ShardSubscriber(cluster, { ...common, ...credentials(target), maxRetriesPerRequest: null }, options.timeout, events);
      this.scripts = scripts('SPUBLISH');
      // Each node's connection loads the scripts before anything else it is sent: an EVALSHA refused
      // with NOSCRIPT and sent again as EVAL would run after the commands queued behind it, out of order.
      cluster.on('+node', (node: Redis) => this.load(node));
    } else {
      this.cmd = connection(target, commands);
      this.sub = new TopicSubscriber(connection(target, { ...common, maxRetriesPerRequest: null }), options.timeout, events);
      this.scripts = scripts('PUBLISH');
    }
    this.sentinels = target.kind === 'sentinel' ? new SentinelWatch(target, options.timeout, (master) => this.follow(master, 'a Sentinel announced +switch-master to')) : null;
    this.deadAfter = Math.round(options.presenceTtl * 0.6);
    this.beatEvery = Math.max(50, Math.round(options.presenceTtl * 0.2));
    this.cmd.on('ready', () => {
      this.cmdReady = true;
      this.cmdConnectedAt = null;
      if (this.cmd instanceof Redis) this.load(this.cmd);
      void this.beat();
    });
    this.cmd.on('connect', () => (this.cmdConnectedAt = Date.now()));
    this.cmd.on('close', () => {
      this.cmdConnectedAt = null;
      this.cmdReady = false;
      this.beaten = false;
      this.lost();
    });
    this.cmd.on('error', (err: Error) => this.failedToConnect(target, err));
    // What one Sentinel said while the connection looked for the master; 'error' follows once none named one.
    for (const client of [this.cmd, ...this.sub.connections]) {
      client.on('sentinelError', (err: Error) => {
        this.sentinelError = err.message;
      });
    }
  }

  /**
   * Connected, and beaten recently enough to still be a member of the cluster: a node whose last
   * beat is older than `deadAfter` (it was frozen, say) may have been removed by the others, and is
   * not up until a beat says whether it was, and the names are claimed again.
   */
  get up(): boolean {
    return !this.cut && this.answering && Date.now() - this.beatAt < this.deadAfter;
  }

  get isolated(): boolean {
    return this.cut;
  }

  /** Both sides answer: the command connection has beaten and every subscription is in place. */
  private get answering(): boolean {
    return this.cmdReady && this.sub.ready && this.beaten;
  }

  async start(sink: EngineSink): Promise<void> {
    this.sink = sink;
    this.beats = setInterval(() => void this.beat(), this.beatEvery);
    this.beats.unref();
    this.sentinels?.start();
    // connect() settles once ready or refused, and never while no Sentinel names the master: the
    // connections come up in the background. The first beat and the subscriber's PING follow
    // 'ready': give them a moment, so a node that can reach Redis starts up rather than degraded.
    this.cmd.connect().catch(() => undefined);
    this.sub.connect();
    if (!this.up) await this.until(true, Math.max(STARTUP_WAIT, this.options.timeout));
    if (!this.up) this.warnDown();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    if (this.beats !== null) clearInterval(this.beats);
    this.beats = null;
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
    if (this.lapse !== null) clearTimeout(this.lapse);
    this.lapse = null;
    this.sentinels?.close();
    if (this.cmdReady) await Promise.all([...this.present].map((channel) => this.forget(channel)));
    this.cmd.disconnect();
    this.sub.disconnect();
    for (const wake of this.waiters) wake(false);
  }

  async subscribe(channel: string): Promise<void> {
    const topic = this.topic(channel);
    this.topics.set(topic, channel);
    // Not up: the subscription is in place before the node is up again, and the resync then
    // fills the channel. Up: wait for it, until the node goes down or `timeout` passes (then the
    // subscriber counts it as lost, and the node is not up until it is in place).
    const up = this.up;
    const subscribed = this.sub.subscribe(topic, up);
    if (!up) return;
    let wake: (up: boolean) => void = () => undefined;
    const down = new Promise<void>((resolve) => {
      wake = (up) => {
        if (!up) resolve();
      };
      this.waiters.add(wake);
    });
    await Promise.race([subscribed, down]);
    this.waiters.delete(wake);
  }

  unsubscribe(channel: string): void {
    const topic = this.topic(channel);
    this.topics.delete(topic);
    this.sub.unsubscribe(topic);
    // No member of this node is left in the channel: it beats there no more.
    if (this.present.delete(channel) && this.up) void this.forget(channel);
  }

  /**
   * Queued with the channel's other messages of this tick, and published with them as one script
   * call at its end (or sooner: see `flush`), which costs Redis and both nodes' CPU one call and one
   * Pub/Sub message per batch rather than per message.
   */
  publish(channel: string, draft: Draft): Promise<Published> {
    if (!this.cmdReady) return Promise.reject(new EngineUnavailable('redis is not connected'));
    return new Promise((resolve, reject) => {
      const size = draft.head.length + draft.tail.length;
      const queued = this.pending.get(channel);
      // A batch is one Pub/Sub message to every node's subscriber connection, whose output buffer
      // Redis caps (32 MB by default), and one script that holds Redis up while it runs.
      if (queued !== undefined && (queued.batch.length === BATCH_MAX || queued.size + size > BATCH_SIZE)) this.flush();
      const batch = this.pending.get(channel) ?? { batch: [], size: 0 };
      this.pending.set(channel, batch);
      batch.batch.push({ draft, resolve, reject });
      batch.size += size;
      this.flushing ??= setImmediate(() => this.flush());
    });
  }

  /**
   * Sends every queued batch, each channel's in order. Called at the end of the tick, when a batch
   * is full, and before any other command this node sends Redis, so that Redis receives the node's
   * other commands after the messages published before them (a member's message before its leave).
   */
  private flush(): void {
    if (this.pending.size === 0) return;
    if (this.flushing !== null) clearImmediate(this.flushing);
    this.flushing = null;
    const pending = [...this.pending];
    this.pending.clear();
    for (const [channel, { batch }] of pending) this.publishBatch(channel, batch);
  }

  private publishBatch(channel: string, batch: Queued[]): void {
    const k = this.keys(channel);
    const keys = [k.seq, k.epoch, k.log];
    const args: (string | number)[] = [newEpoch(), POSITION_TTL, this.options.historySize, this.options.historyTtl, k.base];
    for (const { draft } of batch) {
      const dedup = draft.route.dedup;
      keys.push(dedup === undefined ? k.seq : `${k.base}:seen:${dedup}`);
      args.push(draft.head, draft.tail, JSON.stringify(draft.route), dedup === undefined ? '0' : '1', draft.seen?.epoch ?? '', draft.seen?.seq ?? -1);
    }
    this.exec(this.scripts.PUBLISH, keys, args).then(
      (reply) => {
        // Four fields per message: epoch, seq, duplicate, behind.
        const fields = reply as (string | number)[];
        batch.forEach(({ resolve }, i) => {
          const at = i * 4;
          resolve({ epoch: String(fields[at]), seq: Number(fields[at + 1]), duplicate: fields[at + 2] === 1, ...(fields[at + 3] === 1 ? { behind: true } : {}) });
        });
      },
      (err: unknown) => batch.forEach(({ reject }) => reject(err)),
    );
  }

  signal(channel: string, signal: Signal): void {
    if (!this.up) return this.sink.signal(channel, signal);
    this.flush();
    const topic = this.topic(channel);
    const message = encodeSignal(signal);
    (this.cmd instanceof Cluster ? this.cmd.spublish(topic, message) : this.cmd.publish(topic, message)).catch(() => this.sink.signal(channel, signal));
  }

  async join(channel: string, user: string, patient = false): Promise<boolean> {
    const k = this.keys(channel);
    this.unleft.delete(`${channel}\n${user}`);
    let lastAge = -1;
    for (;;) {
      const args = [user, this.node, this.deadAfter, k.base, PRESENCE_TTL];
      const [admitted, age, absent] = (await this.run(this.scripts.JOIN, [k.presence, k.nodes], args)) as [number, number, number];
      if (admitted === 1) {
        // Not among the channel's nodes although it has members there: their names went with it.
        if (absent === 1 && this.present.has(channel)) this.lostNames();
        this.present.add(channel);
        return true;
      }
      // The holder's node beat again since the last look: it is alive, and the name is taken.
      if (!patient || this.closed || age < lastAge) return false;
      lastAge = age;
      await new Promise((resolve) => setTimeout(resolve, this.beatEvery).unref());
    }
  }

  async leave(channel: string, user: string): Promise<void> {
    const k = this.keys(channel);
    try {
      await this.run(this.scripts.LEAVE, [k.presence], [user, this.node, k.base]);
    } catch {
      // Redis did not take it: tell this node's members now, and remove the name once Redis is back,
      // or it would stay held by this live node for good.
      this.unleft.add(`${channel}\n${user}`);
      this.sink.signal(channel, { kind: 'leave', user });
    }
  }

  async members(channel: string): Promise<string[]> {
    const k = this.keys(channel);
    const reply = (await this.run(this.scripts.MEMBERS, [k.presence, k.nodes], [this.deadAfter])) as string[];
    const entries: { user: string; joined: number }[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push({ user: reply[i], joined: Number(reply[i + 1]) });
    entries.sort((a, b) => a.joined - b.joined || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
    return entries.map((e) => e.user);
  }

  async recover(channel: string, since: number | null, epoch: string | null, own = false): Promise<Recovery> {
    const k = this.keys(channel);
    const seen = own && since !== null && epoch !== null ? [epoch, since] : ['', -1];
    const reply = (await this.run(this.scripts.RECOVER, [k.seq, k.epoch, k.log], [newEpoch(), POSITION_TTL, since ?? -1, epoch ?? '', ...seen])) as [string, number, [string, string[]][], number];
    const position = { epoch: reply[0], seq: reply[1], ...(reply[3] === 1 ? { behind: true } : {}) };
    if (since === null) return { ...position, publications: [], recovered: false };
    const publications: Publication[] = [];
    for (const [id, fields] of reply[2]) {
      const route = parseRoute(field(fields, 'r') ?? '');
      const json = field(fields, 'j');
      if (route !== null && json !== undefined) publications.push({ seq: Number(id.slice(0, id.indexOf('-'))), epoch: position.epoch, route, json });
    }
    return { ...position, ...replay(position, since, epoch, publications) };
  }

  /**
   * Beats every channel this node has members in (and, with none, PINGs), removing the nodes
   * silent there: the beat is also the command connection's probe, each command bounded by
   * `timeout`. It counts only when every channel answered.
   */
  private async beat(): Promise<void> {
    if (this.closed) return;
    this.dropStalledHandshakes();
    void this.askSentinels();
    this.sub.probe((reason) => this.cutOff(reason));
    if (!this.cmdReady) return;
    const sent = Date.now();
    const groups = this.beatGroups();
    const replies = await Promise.allSettled(groups.length > 0 ? groups.map((channels) => this.beatChannels(channels)) : [this.ping()]);
    // Cut off while the beat was under way: it does not count.
    if (!this.cmdReady || this.closed) return;
    if (replies.some((r) => r.status === 'rejected')) return;
    this.beaten = true;
    this.beatAt = sent;
    if (this.lapse !== null) clearTimeout(this.lapse);
    this.lapse = setTimeout(() => this.changed(), sent + this.deadAfter + 1 - Date.now());
    this.lapse.unref();
    const wasUp = this.reported;
    // The first beat, or the first since beats failed for so long that the node stopped counting as up: say so.
    this.changed();
    if (this.up) {
      // changed() just told the sink it is up again, which claims every name; else ask for it.
      if (this.rejoin && wasUp) this.sink.state(true);
      this.rejoin = false;
    }
  }

  /** The channels to beat, grouped so that one script beats each group: on a cluster, the channels of one slot; else slices. */
  private beatGroups(): string[][] {
    const channels = [...this.present];
    if (!(this.cmd instanceof Cluster)) return Array.from({ length: Math.ceil(channels.length / BEAT_SLICE) }, (_, i) => channels.slice(i * BEAT_SLICE, (i + 1) * BEAT_SLICE));
    const bySlot = new Map<number, string[]>();
    for (const channel of channels) {
      const slot = calculateSlot(this.topic(channel));
      const group = bySlot.get(slot);
      if (group === undefined) bySlot.set(slot, [channel]);
      else group.push(channel);
    }
    return [...bySlot.values()];
  }

  /** Beats some channels in one script; notes when this node had been removed from one it still has members in. */
  private async beatChannels(channels: string[]): Promise<void> {
    const keys = channels.flatMap((channel) => {
      const k = this.keys(channel);
      return [k.nodes, k.presence];
    });
    const topics = channels.map((channel) => this.topic(channel));
    const absent = (await this.run(this.scripts.BEAT, keys, [this.node, this.deadAfter, PRESENCE_TTL, ...topics])) as number[];
    if (channels.some((channel, i) => absent[i] === 1 && this.present.has(channel))) this.lostNames();
  }

  /** Some of this node's names were removed from Redis: they are claimed again once the node is up. */
  private lostNames(): void {
    this.rejoin = true;
    if (this.up) {
      this.rejoin = false;
      this.sink.state(true);
    }
  }

  /** A probe of the command connection when there is no channel to beat: on a cluster, of every master. */
  private async ping(): Promise<void> {
    const nodes = this.cmd instanceof Cluster ? this.cmd.nodes('master') : [this.cmd];
    try {
      await Promise.all(nodes.map((node) => node.ping()));
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** Leaves a channel: this node and any name it still holds there are removed. */
  private async forget(channel: string): Promise<void> {
    const k = this.keys(channel);
    await this.run(this.scripts.FORGET, [k.nodes, k.presence], [this.node, k.base]).catch(() => undefined);
  }

  /**
   * A +switch-master can be missed (a Sentinel restarting, a lost subscription): every beat asks
   * the Sentinels which server is master, and a connection on another one is dropped.
   */
  private async askSentinels(): Promise<void> {
    if (this.sentinels === null || this.asking) return;
    this.asking = true;
    // The answers may come as late as redisTimeout (a Sentinel that hangs): they say nothing of
    // connections made since the question was asked.
    const links = this.links;
    const asked = links.map((c) => c.stream);
    try {
      const master = await this.sentinels.master();
      if (master === null || links.some((c, i) => c.stream !== asked[i])) return;
      this.follow(master, 'the Sentinels name as master');
    } finally {
      this.asking = false;
    }
  }

  /** Drops both connections when either is on another server than `master`. */
  private follow(master: MasterAddress, reason: string): void {
    if (this.closed) return;
    const elsewhere = this.links.some((c) => {
      const { remoteAddress, remotePort } = c.stream ?? {};
      return (c.status === 'ready' || c.status === 'connect') && remoteAddress !== undefined && remotePort !== undefined && !isOn(remoteAddress, remotePort, master);
    });
    if (elsewhere) this.switched(`${reason} ${master.host}:${master.port}`);
  }

  /** The master changed: both connections go at once (already cut off or not), and ioredis asks the Sentinels for the new one. */
  private switched(reason: string): void {
    if (this.closed) return;
    this.dropCommands();
    this.sub.drop();
    this.cutOff(reason);
  }

  /** On one Redis or a Sentinel's master: the command connection and the subscriber's. */
  private get links(): Redis[] {
    return this.cmd instanceof Redis ? [this.cmd, ...this.sub.connections] : [];
  }

  /** Drops a command connection whose handshake Redis has not answered within `timeout`, and the subscriber's. */
  private dropStalledHandshakes(): void {
    const at = this.cmdConnectedAt;
    if (this.cmd.status === 'connect' && at !== null && Date.now() - at > this.options.timeout) this.dropCommands();
    this.sub.dropStalled();
  }

  /** Drops the command connection (on a cluster, every node's) at once; ioredis connects again. */
  private dropCommands(): void {
    if (this.cmd instanceof Redis) return destroy(this.cmd);
    for (const node of this.cmd.nodes()) destroy(node);
    if (this.cmd.status === 'ready' || this.cmd.status === 'connect') this.cmd.disconnect(true);
  }

  /** A connection closed: with both sides gone nothing can arrive any more, so this node serves its members alone. */
  private lost(): void {
    if (!this.cmdReady && !this.sub.ready && !this.cut) {
      this.cut = true;
      // On a cluster the other shards' subscriptions would still deliver: they go too.
      this.sub.drop();
    }
    this.changed();
  }

  /** The last error of a connection, for the one line an outage logs. */
  private failedToConnect(target: RedisTarget, err: Error): void {
    this.lastError = target.kind === 'sentinel' && err.message.startsWith(NO_SENTINEL) ? this.sentinelsSaid(target) : err.message;
  }

  /** Loads every script on a connection, ahead of any command that uses them. */
  private load(client: Redis): void {
    for (const script of Object.values(this.scripts)) client.script('LOAD', script.lua).catch(() => undefined);
  }

  /**
   * Cuts this node off from Redis: drops both connections at once (a silent partition would never
   * close them), so nothing Redis ordered before can still arrive, and serves this node's members
   * alone until both connections answer again.
   */
  private cutOff(reason: string): void {
    if (this.cut || this.closed) return;
    this.lastError = reason;
    this.cut = true;
    this.cmdReady = false;
    this.beaten = false;
    this.dropCommands();
    this.sub.drop();
    this.sink.cut();
    this.changed();
  }

  /** Tells the sink when `up` changes; ends a cut once both connections answer, and starts the watchdog when a connection goes. */
  private changed(): void {
    if (this.cut && this.answering) this.cut = false;
    this.watch();
    const up = this.up;
    const changedUp = up !== this.reported;
    // Down already, and now cut off too: the sink learns that nothing more will arrive.
    const newlyCut = !up && this.cut && !this.reportedCut;
    this.reported = up;
    this.reportedCut = this.cut;
    if (!changedUp && !newlyCut) return;
    if (up) {
      if (this.warned) this.options.log.info({ url: withoutCredentials(this.options.url) }, 'redis reachable again');
      this.warned = false;
      this.retryLeaves();
    } else if (this.cut) {
      this.warnDown();
    }
    if (changedUp) for (const wake of this.waiters) wake(up);
    if (!this.closed) this.sink.state(up);
  }

  /** Cuts the node off if it is neither up nor cut off `timeout` after it stopped being up. */
  private watch(): void {
    if (this.up || this.cut || this.closed) {
      if (this.watchdog !== null) clearTimeout(this.watchdog);
      this.watchdog = null;
      return;
    }
    this.watchdog ??= setTimeout(() => {
      this.watchdog = null;
      if (!this.up) this.cutOff('a redis connection did not come back within redisTimeout');
    }, this.options.timeout);
    this.watchdog.unref();
  }

  /** Sends again the leaves Redis did not take; queued before anything the sink does next. */
  private retryLeaves(): void {
    const pending = [...this.unleft];
    this.unleft.clear();
    for (const entry of pending) {
      const [channel, user] = entry.split('\n') as [string, string];
      void this.leave(channel, user);
    }
  }

  /** What the Sentinels said when none named the master, for the log line. */
  private sentinelsSaid(target: RedisSentinelTarget): string {
    const said = this.sentinelError;
    this.sentinelError = null;
    // A Sentinel answers an unknown name with a null address, or refuses SENTINEL SENTINELS for it.
    if (said !== null && /No such master|invalid reply: null$/.test(said)) return `no Sentinel knows a master named ${JSON.stringify(target.name)}: write the name of their "sentinel monitor NAME" after the hosts`;
    return `no Sentinel answered at ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }

  /** Logs an outage once, not once per reconnection attempt. */
  private warnDown(): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    const err = this.lastError === null ? {} : { err: this.lastError };
    this.options.log.warn({ ...err, url: withoutCredentials(this.options.url) }, 'redis unreachable; serving local members only and retrying');
  }

  /** Resolves once `up` becomes `state`, or after `ms` when given. */
  private until(state: boolean, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.waiters.delete(wake);
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      const wake = (up: boolean): void => {
        if (up === state || this.closed) done();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.waiters.add(wake);
    });
  }

  private received(topic: string, message: Buffer): void {
    const channel = this.topics.get(topic);
    if (channel === undefined) return;
    const received = decodeWire(message);
    if (received === null) return this.options.log.warn({ channel }, 'ignored a malformed message on the channel topic');
    if (received.kind === 'publications') for (const publication of received.publications) this.sink.publication(channel, publication);
    else this.sink.signal(channel, received.signal);
  }

  private run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    this.flush();
    return this.exec(script, keys, args);
  }

  private async exec(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (!this.cmdReady) throw new EngineUnavailable('redis is not connected');
    try {
      return await this.cmd.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw this.failed(err);
    }
    // The script cache was flushed since this connection loaded it: send the script itself.
    try {
      return await this.cmd.eval(script.lua, keys.length, ...keys, ...args);
    } catch (err) {
      throw this.failed(err);
    }
  }

  /**
   * A command that failed. One Redis did not answer within `timeout` drops its connection (ioredis
   * would keep it queued) and cuts the node off; an error Redis answered with is `refused`.
   */
  private failed(err: unknown): EngineUnavailable {
    const message = err instanceof Error ? err.message : String(err);
    if (message === COMMAND_TIMED_OUT) {
      this.dropCommands();
      this.cutOff('redis did not answer a command within redisTimeout');
    }
    return new EngineUnavailable(message, err instanceof Error && err.name === 'ReplyError');
  }

  private topic(channel: string): string {
    return `${this.options.prefix}:{${channel}}`;
  }

  private keys(channel: string): { base: string; seq: string; epoch: string; log: string; presence: string; nodes: string } {
    const base = this.topic(channel);
    return { base, seq: `${base}:seq`, epoch: `${base}:epoch`, log: `${base}:log`, presence: `${base}:presence`, nodes: `${base}:nodes` };
  }
}

/**
 * One connection to what the URL names: the Redis server, or the master its Sentinels name. A
 * Sentinel connection follows the master: it asks the Sentinels for it at each (re)connection,
 * refuses a server that is not a master (ioredis's ready check reads its role), and drops on a
 * READONLY answer (a master demoted under it); the engine drops it when the Sentinels name
 * another master (SentinelWatch), and then sees a lost connection as on any outage.
 */
function connection(target: Exclude<RedisTarget, RedisClusterTarget>, options: RedisOptions): Redis {
  if (target.kind === 'server') return new Redis(target.url, options);
  const tls = target.tls ? {} : undefined;
  const retry = options.retryStrategy;
  return new Redis({
    ...options,
    // A connection lost to a failover learns the new master only when it tries again: soon, then.
    retryStrategy: (times) => {
      const ms = retry?.(times);
      return typeof ms === 'number' ? Math.min(ms, FAILOVER_RETRY_CAP * (0.5 + Math.random() / 2)) : ms;
    },
    sentinels: target.sentinels,
    name: target.name,
    role: 'master',
    db: target.db,
    username: target.username ?? undefined,
    password: target.password ?? undefined,
    sentinelUsername: target.sentinelUsername ?? undefined,
    sentinelPassword: target.sentinelPassword ?? undefined,
    // A Sentinel that accepts the connection but never answers must not hold up the reconnection.
    sentinelCommandTimeout: options.connectTimeout,
    // The engine watches the Sentinels itself (SentinelWatch): ioredis's detector reconnects every
    // 60 s and drops the connection at any master's +switch-master.
    failoverDetector: false,
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    enableTLSForSentinelMode: target.tls,
    tls,
    sentinelTLS: tls,
  });
}

/**
 * The command connection to a Redis Cluster: ioredis asks the seed nodes for the slots, sends each
 * command to the master of its channel's slot, follows MOVED and ASK, and refreshes the slots when
 * a node fails. Each node's connection loads the scripts first (see RedisEngine). A command to a
 * shard that is failing over fails at once (CLUSTERDOWN, or its master's connection closed).
 */
function clusterConnection(target: RedisClusterTarget, commands: RedisOptions, common: RedisOptions): Cluster {
  const retry = common.retryStrategy;
  const options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    scaleReads: 'master',
    slotsRefreshTimeout: commands.connectTimeout,
    // A command to a shard that is failing over fails at once rather than being sent again later,
    // perhaps after its caller was told it failed; the caller sends it again (with its id).
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: RETRY_BASE,
    // ioredis 5 refreshes the slot map only on MOVED and on reconnection unless told to: a slot
    // moved while this node sent nothing there is found within this.
    slotsRefreshInterval: SLOTS_REFRESH,
    clusterRetryStrategy: (times) => retry?.(times) ?? null,
    redisOptions: { ...commands, ...credentials(target) },
  };
  return new Cluster(target.nodes, options);
}

/** The user, password and TLS of a cluster's nodes. */
function credentials(target: RedisClusterTarget): RedisOptions {
  return { username: target.username ?? undefined, password: target.password ?? undefined, tls: target.tls ? {} : undefined };
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
