// Longer than most files here: the Redis engine is one state machine (two connections, their probes,
// the cut and its end) shared by every operation, and splitting it would spread that state.
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
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
import { parseRedisUrl, type RedisSentinelTarget, type RedisTarget } from './redis-url.js';
import { isOn, SentinelWatch, type MasterAddress } from './sentinel-watch.js';
import { BEAT, FORGET, JOIN, LEAVE, MEMBERS, PUBLISH, RECOVER, type Script } from './scripts.js';
import { decodeWire, encodeSignal, parseRoute } from './wire.js';

const SCRIPTS = [BEAT, FORGET, JOIN, LEAVE, MEMBERS, PUBLISH, RECOVER];

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
/** ioredis's message for a command not answered within commandTimeout. */
const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * The engine for several nodes: one Redis, or the master a set of Sentinels names (not Cluster: the
 * scripts touch keys across channels).
 * Per channel: `seq` and `epoch` strings, a `log` stream (XADD MAXLEN ~), `seen:` keys for
 * duplicate ids, a `presence` hash (user -> node|joined), and a Pub/Sub topic. Per node: a beat in
 * the `nodes` sorted set, and the set of channels it has members in, so the node that finds it dead
 * can remove its members.
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
  private readonly cmd: Redis;
  private readonly sub: Redis;
  /** A node that has not beaten for this long is dead; with beats every `beatEvery`, its members go within presenceTtl. */
  private readonly deadAfter: number;
  private readonly beatEvery: number;
  private readonly topics = new Map<string, string>();
  private cmdReady = false;
  private subReady = false;
  /** Cut off: set when both connections are gone or Redis stopped answering, cleared once both answer again. */
  private cut = true;
  /** Cuts this node off if it is still not up `timeout` after a connection was lost. */
  private watchdog: NodeJS.Timeout | null = null;
  /** When each connection's socket connected or became ready, to drop one whose handshake or first PING Redis never answers. */
  private readonly connectedAt = new Map<Redis, number>();
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
  /** When the last beat Redis answered was sent. */
  private beatAt = 0;
  private closed = false;
  private readonly waiters = new Set<(up: boolean) => void>();
  /** On Sentinel: the watch that says when the master changed. */
  private readonly sentinels: SentinelWatch | null;
  /** A beat's question to the Sentinels is still unanswered. */
  private asking = false;

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
    this.cmd = connection(target, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: options.timeout });
    this.sub = connection(target, { ...common, maxRetriesPerRequest: null });
    this.sentinels = target.kind === 'sentinel' ? new SentinelWatch(target, options.timeout, (master) => this.follow(master, 'a Sentinel announced +switch-master to')) : null;
    this.deadAfter = Math.round(options.presenceTtl * 0.6);
    this.beatEvery = Math.max(50, Math.round(options.presenceTtl * 0.2));
    this.cmd.on('ready', () => {
      this.cmdReady = true;
      // Load every script before any command that uses it: an EVALSHA refused with NOSCRIPT and
      // sent again as EVAL would run after the commands queued behind it, out of order.
      for (const script of SCRIPTS) this.cmd.script('LOAD', script.lua).catch(() => undefined);
      void this.beat();
    });
    // Subscriptions are restored by ioredis after 'ready' fires; a PING sent after them answers
    // once they are all in place, and only then can a history read miss nothing.
    this.sub.on('ready', () => {
      this.connectedAt.set(this.sub, Date.now());
      const stream = this.sub.stream;
      setImmediate(() => {
        this.sub.ping().then(
          () => {
            this.subReady = this.sub.status === 'ready' && !stream.destroyed;
            this.changed();
          },
          () => undefined,
        );
      });
    });
    for (const client of [this.cmd, this.sub]) {
      client.on('connect', () => this.connectedAt.set(client, Date.now()));
      client.on('close', () => {
        this.connectedAt.delete(client);
        if (client === this.cmd) {
          this.cmdReady = false;
          this.beaten = false;
        } else {
          this.subReady = false;
        }
        // With both connections gone nothing can arrive any more: serve this node's members alone.
        if (!this.cmdReady && !this.subReady) this.cut = true;
        this.changed();
      });
      client.on('error', (err: Error) => {
        this.lastError = target.kind === 'sentinel' && err.message.startsWith(NO_SENTINEL) ? this.sentinelsSaid(target) : err.message;
      });
      // What one Sentinel said while the connection looked for the master; 'error' follows once none named one.
      client.on('sentinelError', (err: Error) => {
        this.sentinelError = err.message;
      });
    }
    this.sub.on('messageBuffer', (topic: Buffer, message: Buffer) => this.received(topic.toString(), message));
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

  /** Both connections answer: the command connection has beaten and the subscriber answered a PING. */
  private get answering(): boolean {
    return this.cmdReady && this.subReady && this.beaten;
  }

  async start(sink: EngineSink): Promise<void> {
    this.sink = sink;
    this.beats = setInterval(() => void this.beat(), this.beatEvery);
    this.beats.unref();
    this.sentinels?.start();
    // connect() settles once ready or refused, and never while no Sentinel names the master: the
    // connections come up in the background. The first beat and the subscriber's PING follow
    // 'ready': give them a moment, so a node that can reach Redis starts up rather than degraded.
    for (const client of [this.cmd, this.sub]) client.connect().catch(() => undefined);
    if (!this.up) await this.until(true, Math.max(STARTUP_WAIT, this.options.timeout));
    if (!this.up) this.warnDown();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.beats !== null) clearInterval(this.beats);
    this.beats = null;
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
    this.sentinels?.close();
    if (this.cmdReady) await this.run(FORGET, [this.key('nodes'), this.nodeChannels()], [this.node, this.options.prefix]).catch(() => undefined);
    this.cmd.disconnect();
    this.sub.disconnect();
    for (const wake of this.waiters) wake(false);
  }

  async subscribe(channel: string): Promise<void> {
    const topic = this.topic(channel);
    this.topics.set(topic, channel);
    const subscribed = this.sub.subscribe(topic).then(
      () => undefined,
      () => undefined,
    );
    if (!this.up) return;
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
    void this.sub.unsubscribe(topic).catch(() => undefined);
    if (this.up) void this.cmd.srem(this.nodeChannels(), channel).catch(() => undefined);
  }

  async publish(channel: string, draft: Draft): Promise<Published> {
    const k = this.keys(channel);
    const key = draft.route.dedup;
    const dedup = key === undefined ? '0' : '1';
    const seen = key === undefined ? k.seq : `${k.base}:seen:${key}`;
    const args = [newEpoch(), POSITION_TTL, draft.head, draft.tail, JSON.stringify(draft.route), this.options.historySize, this.options.historyTtl, dedup, k.base, draft.seen?.epoch ?? '', draft.seen?.seq ?? -1];
    const reply = await this.run(PUBLISH, [k.seq, k.epoch, k.log, seen], args);
    const [epoch, seq, duplicate, behind] = reply as [string, number, number, number];
    return { epoch, seq, duplicate: duplicate === 1, ...(behind === 1 ? { behind: true } : {}) };
  }

  signal(channel: string, signal: Signal): void {
    if (!this.up) return this.sink.signal(channel, signal);
    this.cmd.publish(this.topic(channel), encodeSignal(signal)).catch(() => this.sink.signal(channel, signal));
  }

  async join(channel: string, user: string, patient = false): Promise<boolean> {
    const k = this.keys(channel);
    this.unleft.delete(`${channel}\n${user}`);
    let lastAge = -1;
    for (;;) {
      const args = [user, this.node, this.deadAfter, k.base, channel, PRESENCE_TTL];
      const [admitted, age] = (await this.run(JOIN, [k.presence, this.key('nodes'), this.nodeChannels()], args)) as [number, number];
      if (admitted === 1) return true;
      // The holder's node beat again since the last look: it is alive, and the name is taken.
      if (!patient || this.closed || age < lastAge) return false;
      lastAge = age;
      await new Promise((resolve) => setTimeout(resolve, this.beatEvery).unref());
    }
  }

  async leave(channel: string, user: string): Promise<void> {
    const k = this.keys(channel);
    try {
      await this.run(LEAVE, [k.presence], [user, this.node, k.base]);
    } catch {
      // Redis did not take it: tell this node's members now, and remove the name once Redis is back,
      // or it would stay held by this live node for good.
      this.unleft.add(`${channel}\n${user}`);
      this.sink.signal(channel, { kind: 'leave', user });
    }
  }

  async members(channel: string): Promise<string[]> {
    const reply = (await this.run(MEMBERS, [this.keys(channel).presence, this.key('nodes')], [this.deadAfter])) as string[];
    const entries: { user: string; joined: number }[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push({ user: reply[i], joined: Number(reply[i + 1]) });
    entries.sort((a, b) => a.joined - b.joined || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
    return entries.map((e) => e.user);
  }

  async recover(channel: string, since: number | null, epoch: string | null, own = false): Promise<Recovery> {
    const k = this.keys(channel);
    const seen = own && since !== null && epoch !== null ? [epoch, since] : ['', -1];
    const reply = (await this.run(RECOVER, [k.seq, k.epoch, k.log], [newEpoch(), POSITION_TTL, since ?? -1, epoch ?? '', ...seen])) as [string, number, [string, string[]][], number];
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

  private async beat(): Promise<void> {
    if (this.closed) return;
    this.dropStalledHandshakes();
    void this.askSentinels();
    if (this.subReady) this.probeSubscriber();
    if (!this.cmdReady) return;
    const sent = Date.now();
    try {
      const [absent] = (await this.run(BEAT, [this.key('nodes')], [this.node, this.deadAfter, this.options.prefix])) as [number, number];
      // Cut off while the beat was under way: it does not count.
      if (!this.cmdReady) return;
      const first = !this.beaten;
      this.beaten = true;
      this.beatAt = sent;
      if (first) this.changed();
      // Another node found this one silent and removed its members: re-join them.
      else if (absent === 1 && this.up) this.sink.state(true);
    } catch {
      // The connection is down; its close handler reports it, and the next beat tries again.
    }
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
    const asked = [this.cmd.stream, this.sub.stream];
    try {
      const master = await this.sentinels.master();
      if (master === null || this.cmd.stream !== asked[0] || this.sub.stream !== asked[1]) return;
      this.follow(master, 'the Sentinels name as master');
    } finally {
      this.asking = false;
    }
  }

  /** Drops both connections when either is on another server than `master`. */
  private follow(master: MasterAddress, reason: string): void {
    if (this.closed) return;
    const elsewhere = [this.cmd, this.sub].some((c) => {
      const { remoteAddress, remotePort } = c.stream ?? {};
      return (c.status === 'ready' || c.status === 'connect') && remoteAddress !== undefined && remotePort !== undefined && !isOn(remoteAddress, remotePort, master);
    });
    if (elsewhere) this.switched(`${reason} ${master.host}:${master.port}`);
  }

  /** The master changed: both connections go at once (already cut off or not), and ioredis asks the Sentinels for the new one. */
  private switched(reason: string): void {
    if (this.closed) return;
    this.drop(this.cmd);
    this.drop(this.sub);
    this.cutOff(reason);
  }

  /**
   * A subscriber connection that died without closing would leave this node deaf while it looks
   * up: one that does not answer a PING within `timeout` cuts the node off. (The command connection
   * is probed by the beat itself, a command with that timeout.)
   */
  private probeSubscriber(): void {
    const stream = this.sub.stream;
    const timer = setTimeout(() => {
      if (this.sub.stream !== stream) return;
      this.drop(this.sub);
      this.cutOff('redis did not answer a PING on the subscriber connection within redisTimeout');
    }, this.options.timeout);
    timer.unref();
    this.sub.ping().then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
  }

  /**
   * A socket that connected but whose handshake Redis has not answered within `timeout`, or a
   * subscriber whose first PING after it became ready has not been answered, is dropped and tried
   * again: a connection made in the middle of a partition can hang like any other.
   */
  private dropStalledHandshakes(): void {
    const now = Date.now();
    for (const [client, at] of this.connectedAt) {
      const stalled = client.status === 'connect' || (client === this.sub && client.status === 'ready' && !this.subReady);
      if (stalled && now - at > this.options.timeout) this.drop(client);
    }
  }

  /** Drops one connection at once, without waiting for a goodbye a dead link would never carry; ioredis connects it again. */
  private drop(client: Redis): void {
    if (client.status === 'ready' || client.status === 'connect') client.stream.destroy();
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
    this.subReady = false;
    this.beaten = false;
    this.drop(this.cmd);
    this.drop(this.sub);
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
    if (received.kind === 'publication') this.sink.publication(channel, received.publication);
    else this.sink.signal(channel, received.signal);
  }

  private async run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (!this.cmdReady) throw new EngineUnavailable('redis is not connected');
    try {
      return await this.cmd.evalsha(script.sha, script.keys, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw this.failed(err);
    }
    // The script cache was flushed since this connection loaded it: send the script itself.
    try {
      return await this.cmd.eval(script.lua, script.keys, ...keys, ...args);
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
      this.drop(this.cmd);
      this.cutOff('redis did not answer a command within redisTimeout');
    }
    return new EngineUnavailable(message, err instanceof Error && err.name === 'ReplyError');
  }

  private key(name: string): string {
    return `${this.options.prefix}:${name}`;
  }

  private nodeChannels(): string {
    return this.key(`node:${this.node}:channels`);
  }

  private topic(channel: string): string {
    return `${this.options.prefix}:{${channel}}`;
  }

  private keys(channel: string): { base: string; seq: string; epoch: string; log: string; presence: string } {
    const base = this.topic(channel);
    return { base, seq: `${base}:seq`, epoch: `${base}:epoch`, log: `${base}:log`, presence: `${base}:presence` };
  }
}

/**
 * One connection to what the URL names: the Redis server, or the master its Sentinels name. A
 * Sentinel connection follows the master: it asks the Sentinels for it at each (re)connection,
 * refuses a server that is not a master (ioredis's ready check reads its role), and drops on a
 * READONLY answer (a master demoted under it); the engine drops it when the Sentinels name
 * another master (SentinelWatch), and then sees a lost connection as on any outage.
 */
function connection(target: RedisTarget, options: RedisOptions): Redis {
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

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
