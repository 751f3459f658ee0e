import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import {
  EngineUnavailable,
  recovered,
  type Draft,
  type Engine,
  type EngineOptions,
  type EngineSink,
  type Publication,
  type Published,
  type Recovery,
  type Signal,
} from './engine.js';
import { newEpoch } from './memory.js';
import { BEAT, FORGET, JOIN, LEAVE, MEMBERS, PUBLISH, RECOVER, type Script } from './scripts.js';

const SCRIPTS = [BEAT, FORGET, JOIN, LEAVE, MEMBERS, PUBLISH, RECOVER];
import { decodeWire, encodeSignal, parseRoute } from './wire.js';

export interface RedisEngineOptions extends EngineOptions {
  url: string;
  /** Prefix of every key and topic, so several deployments can share one Redis. */
  prefix: string;
  log: Logger;
}

/** Seq and epoch outlive the history by far, so that an idle channel keeps counting where it was. */
const POSITION_TTL = 7 * 24 * 3_600_000;
/** A presence hash outlives its channel's last join by this long, so no crash leaves it forever. */
const PRESENCE_TTL = 24 * 3_600_000;
/** A command Redis has not answered within this is failed, so no request waits on a hung Redis. */
const COMMAND_TIMEOUT = 10_000;
/** TCP keepalive on both connections, so a link that died silently is noticed. */
const KEEPALIVE = 10_000;
/** Reconnect backoff: doubling from this, capped, with jitter so nodes do not come back in step. */
const RETRY_BASE = 100;
const RETRY_CAP = 5_000;

/**
 * The engine for several nodes: one Redis (not Cluster: the scripts touch keys across channels).
 * Per channel: `seq` and `epoch` strings, a `log` stream (XADD MAXLEN ~), `seen:` keys for
 * duplicate ids, a `presence` hash (user -> node|joined), and a Pub/Sub topic. Per node: a beat in
 * the `nodes` sorted set, and the set of channels it has members in, so the node that finds it dead
 * can remove its members.
 *
 * While Redis is unreachable: commands fail at once (no offline queue), signals reach this node only,
 * and ioredis reconnects with backoff. Once back, `state(true)` tells the node to re-join its members
 * and catch up on what it missed.
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
  /** The last `up` told to the sink. */
  private reported = false;
  /** Whether the current outage was logged: once per outage, not per attempt. */
  private warned = false;
  /** The last connection error, for that one log line. */
  private lastError: string | null = null;
  /** `channel \n user` of leaves Redis did not take, removed once it is back. */
  private readonly unleft = new Set<string>();
  private beats: NodeJS.Timeout | null = null;
  private beaten = false;
  private closed = false;
  private readonly waiters = new Set<(up: boolean) => void>();

  constructor(
    private readonly options: RedisEngineOptions,
    private readonly sink: EngineSink,
  ) {
    const common: RedisOptions = {
      lazyConnect: true,
      keepAlive: KEEPALIVE,
      retryStrategy: (times) => Math.min(RETRY_BASE * 2 ** Math.min(times, 10), RETRY_CAP) * (0.5 + Math.random() / 2),
    };
    this.cmd = new Redis(options.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: COMMAND_TIMEOUT });
    this.sub = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
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
    this.sub.on('ready', () =>
      setImmediate(() => {
        this.sub.ping().then(
          () => {
            this.subReady = this.sub.status === 'ready';
            this.changed();
          },
          () => undefined,
        );
      }),
    );
    for (const client of [this.cmd, this.sub]) {
      client.on('close', () => {
        if (client === this.cmd) {
          this.cmdReady = false;
          this.beaten = false;
        } else {
          this.subReady = false;
        }
        this.changed();
      });
      client.on('error', (err: Error) => {
        this.lastError = err.message;
      });
    }
    this.sub.on('messageBuffer', (topic: Buffer, message: Buffer) => this.received(topic.toString(), message));
  }

  get up(): boolean {
    return this.cmdReady && this.subReady && this.beaten;
  }

  get isolated(): boolean {
    return !this.cmdReady && !this.subReady;
  }

  async start(): Promise<void> {
    this.beats = setInterval(() => void this.beat(), this.beatEvery);
    this.beats.unref();
    await Promise.allSettled([this.cmd.connect(), this.sub.connect()]);
    // The first beat and the subscriber's PING follow 'ready' asynchronously: give them a moment,
    // so a node that can reach Redis starts up rather than degraded.
    if (!this.up) await this.until(true, 2_000);
    if (!this.up) this.warnDown();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.beats !== null) clearInterval(this.beats);
    this.beats = null;
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
    const dedup = draft.dedup === undefined ? '0' : '1';
    const seen = draft.dedup === undefined ? k.seq : `${k.base}:seen:${draft.dedup}`;
    const args = [newEpoch(), POSITION_TTL, draft.head, draft.tail, JSON.stringify(draft.route), this.options.historySize, this.options.historyTtl, dedup, k.base];
    const reply = await this.run(PUBLISH, [k.seq, k.epoch, k.log, seen], args);
    const [epoch, seq, duplicate] = reply as [string, number, number];
    return { epoch, seq, duplicate: duplicate === 1 };
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
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push({ user: reply[i]!, joined: Number(reply[i + 1]) });
    entries.sort((a, b) => a.joined - b.joined || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
    return entries.map((e) => e.user);
  }

  async recover(channel: string, since: number | null, epoch: string | null): Promise<Recovery> {
    const k = this.keys(channel);
    const reply = (await this.run(RECOVER, [k.seq, k.epoch, k.log], [newEpoch(), POSITION_TTL, since ?? -1])) as [string, number, [string, string[]][]];
    const position = { epoch: reply[0], seq: reply[1] };
    if (since === null) return { ...position, publications: [], recovered: false };
    const publications: Publication[] = [];
    for (const [id, fields] of reply[2]) {
      const route = parseRoute(field(fields, 'r') ?? '');
      const json = field(fields, 'j');
      if (route !== null && json !== undefined) publications.push({ seq: Number(id.slice(0, id.indexOf('-'))), epoch: position.epoch, route, json });
    }
    const ok = recovered(position, since, epoch, publications[0]?.seq);
    return { ...position, publications: ok ? publications : [], recovered: ok };
  }

  private async beat(): Promise<void> {
    if (!this.cmdReady || this.closed) return;
    if (this.subReady) this.checkSubscriber();
    try {
      const [absent] = (await this.run(BEAT, [this.key('nodes')], [this.node, this.deadAfter, this.options.prefix])) as [number, number];
      const first = !this.beaten;
      this.beaten = true;
      if (first) this.changed();
      // Another node found this one silent and removed its members: re-join them.
      else if (absent === 1 && this.up) this.sink.state(true);
    } catch {
      // The connection is down; its close handler reports it, and the next beat tries again.
    }
  }

  /**
   * A subscriber connection that died without closing would leave this node deaf while it looks
   * up: one that does not answer a PING within a few beats is dropped, and ioredis reconnects it.
   */
  private checkSubscriber(): void {
    let answered = false;
    const timer = setTimeout(() => {
      if (!answered && !this.closed) this.sub.disconnect(true);
    }, this.beatEvery * 3);
    timer.unref();
    this.sub.ping().then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      () => clearTimeout(timer),
    );
  }

  /** Tells the sink when `up` changes. */
  private changed(): void {
    const up = this.up;
    if (up === this.reported) return;
    this.reported = up;
    if (up && this.warned) this.options.log.info({ url: redact(this.options.url) }, 'redis reachable again');
    if (up) this.retryLeaves();
    if (up) this.warned = false;
    else this.warnDown();
    for (const wake of this.waiters) wake(up);
    if (!this.closed) this.sink.state(up);
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

  /** Logs an outage once, not once per reconnection attempt. */
  private warnDown(): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    this.options.log.warn({ err: this.lastError, url: redact(this.options.url) }, 'redis unreachable; serving local members only and retrying');
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
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw new EngineUnavailable(err instanceof Error ? err.message : String(err));
    }
    // The script cache was flushed since this connection loaded it: send the script itself.
    try {
      return await this.cmd.eval(script.lua, script.keys, ...keys, ...args);
    } catch (err) {
      throw new EngineUnavailable(err instanceof Error ? err.message : String(err));
    }
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

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** A Redis URL without its password, for logs. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
