import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminPage } from './admin.js';
import { chatPage } from './chat-page.js';
import { ApiKeys } from './api/keys.js';
import { JwtVerifier } from './auth/jwt.js';
import { TokenSigner } from './auth/token.js';
import type { Channel } from './channels/channel.js';
import { Reaper } from './channels/reaper.js';
import { Delivery } from './channels/delivery.js';
import { Presence } from './connections/presence.js';
import { Publisher } from './connections/publisher.js';
import type { Connection } from './channels/connection.js';
import { Hub } from './connections/hub.js';
import { Replies } from './connections/replies.js';
import { ChannelRegistry } from './channels/registry.js';
import type { Engine } from './engine/engine.js';
import { MemoryEngine } from './engine/memory.js';
import { RedisEngine } from './engine/redis.js';
import { mergeConfig, parsePartial, type Config } from './config.js';
import { CLOSES } from './wire/closes.js';
import { Heartbeat } from './heartbeat.js';
import { handleRequest } from './http.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Session } from './connections/session.js';
import { RateLimit } from './protocol/rate.js';
import { Outbox } from './transport/outbox.js';
import { PING } from './transport/frame.js';
import { originMatcher, routeUpgrade } from './upgrade.js';
import { Webhooks } from './webhooks.js';
import type { WorkerSeat } from './workers/seat.js';

/** Settings for createRoomServer: any of the Config fields, plus a logger to use instead of a new one. */
export interface RoomServerOptions extends Partial<Config> {
  logger?: Logger;
  /**
   * Set by `rooms --workers N` in each of its workers: `/healthz` then names the worker, and
   * `/metrics` serves every worker's metrics, aggregated by the primary.
   */
  worker?: WorkerSeat;
}

/** Events a RoomServer emits. */
export interface RoomServerEvents {
  /** The reaper job ran and removed this many empty channels. */
  reap: [removed: number];
}

type State = 'new' | 'running' | 'closing' | 'closed';

/** Upgrade requests carry a few short headers; anything near this size is not a WebSocket client. */
const MAX_HEADER_BYTES = 8_192;

/**
 * A room server: one http.Server taking every upgrade and routing it to a channel. States go
 * new -> running -> closing -> closed; close() may be called at any point, any number of times.
 */
export class RoomServer extends EventEmitter<RoomServerEvents> {
  readonly config: Readonly<Config>;
  /** The CHANNELS registry: every channel, created on first use. */
  readonly registry: ChannelRegistry;
  readonly log: Logger;
  /** The scale-out seam: memory by default, Redis with the `redis` setting. */
  readonly engine: Engine;
  /** The Prometheus metrics GET /metrics serves, in a registry of this server's own. */
  readonly metrics: Metrics;
  private readonly http: Server;
  private readonly webhooks: Webhooks | null;
  /** Every open connection of this server. */
  private readonly hub = new Hub();
  private readonly replies: Replies;
  private readonly delivery: Delivery;
  private readonly presence: Presence;
  private readonly heartbeat: Heartbeat<Connection>;
  private readonly reaper: Reaper;
  private readonly started = Date.now();
  private state: State = 'new';
  private closing: Promise<void> | null = null;

  constructor(options: RoomServerOptions = {}) {
    super();
    const { logger, worker, ...settings } = options;
    this.config = mergeConfig(parsePartial(settings, 'createRoomServer options'));
    this.log = logger ?? createLogger(this.config.logLevel);
    this.registry = new ChannelRegistry({
      created: (channel) => {
        channel.ready = this.engine.subscribe(channel.key);
      },
      removed: (channel) => this.engine.unsubscribe(channel.key),
    });
    this.metrics = new Metrics({ connections: () => this.connections, channels: () => this.registry.size, membersPerPath: () => this.membersPerPath() }, worker);
    this.webhooks = this.config.webhooks.length === 0 ? null : new Webhooks({
      webhooks: this.config.webhooks,
      secret: this.config.webhookSecret!,
      batchWait: this.config.webhookBatchWait,
      queueSize: this.config.webhookQueueSize,
      retries: this.config.webhookRetries,
      timeout: this.config.webhookTimeout,
      log: this.log,
      metrics: this.metrics,
    });
    const jwt = this.config.authMode === 'token' ? new JwtVerifier(this.config.jwtSecret!) : null;
    this.engine = this.createEngine();
    const outbox = new Outbox<Connection>(this.config.maxBufferedBytes, (connection) => replies.slow(connection), this.config.tickBudget);
    const replies = new Replies(outbox, this.metrics, this.log);
    this.delivery = new Delivery(this.registry, this.engine, outbox, this.log, this.metrics, {
      idLimit: this.config.historySize,
      idTtl: this.config.historyTtl,
      onState: (up) => {
        this.metrics.engineState(this.engine.kind, up);
        if (up) this.presence.resync();
        // Cut off: what Redis ordered and this node has not delivered will not come until it is back.
        else if (this.engine.isolated) for (const channel of this.registry.values()) channel.abandon();
      },
      onMissed: (connection) => replies.fail(connection, 'missed_messages'),
    });
    this.presence = new Presence({
      engine: this.engine,
      delivery: this.delivery,
      registry: this.registry,
      replies,
      signer: new TokenSigner(this.config.secret),
      metrics: this.metrics,
      onMembership: (channel, user, change) => this.membership(channel, user, change),
    });
    const publisher = new Publisher({ maxRecipients: this.config.maxRecipients, answerWithin: this.config.redisTimeout, engine: this.engine, delivery: this.delivery, replies });
    const session = new Session({
      authTimeout: this.config.authTimeout,
      jwt,
      rateLimit: new RateLimit(this.config.messageRate, this.config.messageBurst),
      maxMessageBytes: this.config.maxMessageBytes,
      maxPayload: this.config.maxPayload,
      hub: this.hub,
      replies,
      presence: this.presence,
      publisher,
      metrics: this.metrics,
      load: outbox,
    });
    this.replies = replies;
    this.heartbeat = new Heartbeat(this.config.heartbeatInterval, this.hub, (connection) => outbox.send(connection, PING));
    this.reaper = new Reaper(this.config.reapSchedule, this.registry, this.log, (removed) => {
      this.metrics.reaped(removed);
      this.emit('reap', removed);
    });
    const accepting = (): boolean => this.state === 'running';
    const paths = this.config.paths;
    const upgrade = { config: this.config, registry: this.registry, hub: this.hub, session, log: this.log, jwt, accepting, origins: originMatcher(this.config.allowedOrigins), metrics: this.metrics };
    // A client that dribbles its request is cut after handshakeTimeout; Node checks for such
    // connections on an interval, so the interval is a fraction of the timeout.
    const handshake = this.config.handshakeTimeout;
    const serverOptions = {
      headersTimeout: handshake,
      requestTimeout: handshake,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(handshake / 4))),
      maxHeaderSize: MAX_HEADER_BYTES,
    };
    const api = { config: this.config, keys: new ApiKeys(this.config.apiKeys), registry: this.registry, publisher, replies, metrics: this.metrics };
    const http = { paths, registry: this.registry, started: this.started, connections: () => this.connections, accepting, engine: this.engine, synced: () => this.presence.synced, metrics: this.metrics, worker: worker?.id ?? null, api, admin: new AdminPage(), chat: chatPage(paths[0]), log: this.log };
    this.http = createServer(serverOptions, (req, res) => handleRequest(http, req, res));
    this.http.on('upgrade', (req, socket, head) =>
      routeUpgrade(upgrade, req, socket, head),
    );
  }

  /** Open connections across all channels, named or not. */
  get connections(): number {
    return this.hub.size;
  }

  /** Named members per channel path, for the rooms_members gauge. */
  private membersPerPath(): Map<string, number> {
    const counts = new Map<string, number>(this.config.paths.map((path) => [path, 0]));
    for (const channel of this.registry.values()) counts.set(channel.path, (counts.get(channel.path) ?? 0) + channel.members.size);
    return counts;
  }

  /** Turns a member joining or leaving into webhook events; a channel is occupied while it has named members. */
  private membership(channel: Channel, user: string, change: 'added' | 'removed'): void {
    if (this.webhooks === null) return;
    const where = { path: channel.path, channel: channel.id };
    if (change === 'added') {
      if (channel.members.size === 1) this.webhooks.emit({ name: 'channel_occupied', ...where });
      this.webhooks.emit({ name: 'member_added', ...where, user });
    } else {
      this.webhooks.emit({ name: 'member_removed', ...where, user });
      if (channel.members.size === 0) this.webhooks.emit({ name: 'channel_vacated', ...where });
    }
  }

  /**
   * Connects the engine, then starts listening on the configured host and port; resolves with the
   * address actually bound. An unreachable Redis does not stop it: it serves its own members and
   * keeps trying.
   */
  async listen(): Promise<AddressInfo> {
    if (this.state !== 'new') throw new Error(`cannot listen: server is ${this.state}`);
    this.state = 'running';
    await this.engine.start(this.delivery);
    this.metrics.engineState(this.engine.kind, this.engine.up);
    if (this.state !== 'running') throw new Error('cannot listen: server was closed while starting');
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.state = 'closed';
        void this.engine.close();
        reject(err);
      };
      this.http.once('error', onError);
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.removeListener('error', onError);
        this.http.on('error', (err) => this.log.error({ err: err.message }, 'http server error'));
        this.heartbeat.start();
        this.reaper.start();
        const address = this.address()!;
        this.log.info({ host: address.address, port: address.port, paths: this.config.paths }, 'listening');
        resolve(address);
      });
    });
  }

  /** The bound address, or null before listen() succeeded. */
  address(): AddressInfo | null {
    const address = this.http.address();
    return address !== null && typeof address === 'object' ? address : null;
  }

  private createEngine(): Engine {
    const { redis, redisPrefix, redisTimeout, historySize, historyTtl, presenceTtl } = this.config;
    const options = { historySize, historyTtl, presenceTtl };
    if (redis === null) return new MemoryEngine(options);
    return new RedisEngine({ ...options, url: redis, prefix: redisPrefix, log: this.log, timeout: redisTimeout });
  }

  /**
   * Drains, then closes: refuses upgrades with 503 `shutting_down` while plain HTTP keeps answering
   * (`/readyz` 503, `/healthz` `shutting_down`, so a load balancer sees the drain), closes every
   * member with 1001 "server shutting down", cuts those that have not closed within
   * `shutdownTimeout`, stops the reaper and heartbeat, sends the webhooks' last events (waiting at
   * most `webhookTimeout`), then closes the listener and every HTTP connection, and resolves when
   * all is closed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasListening = this.state === 'running' && this.http.listening;
    this.state = 'closing';
    this.reaper.stop();
    this.heartbeat.stop();
    const connections = [...this.hub];
    const closed = this.hub.drained();
    for (const connection of connections) this.replies.close(connection, CLOSES.shutting_down);
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const connection of this.hub) connection.link.terminate();
        resolve();
      }, this.config.shutdownTimeout);
    });
    await Promise.race([closed, cut]);
    clearTimeout(timer);
    await closed;
    this.registry.clear();
    await this.engine.close();
    // Members' leaves at shutdown are events too: the webhooks get one last request for them.
    await this.webhooks?.close();
    const httpClosed = wasListening ? new Promise<void>((resolve) => this.http.close(() => resolve())) : Promise.resolve();
    this.http.closeAllConnections();
    await httpClosed;
    this.state = 'closed';
    this.log.info('closed');
  }
}
