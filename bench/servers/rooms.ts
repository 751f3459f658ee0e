// The product: rooms, started through its public API; one node of several when the measurement
// gives it a Redis.
import { pino } from 'pino';
import { createRoomServer, type RoomServerOptions } from '../../src/index.js';
import { serverSettings, type RedisTarget, type SlowClose } from '../lib/api.js';
import { nowMs } from '../lib/marker.js';
import { host } from './host.js';

const settings = serverSettings();

/** What rooms logs (at warn, src/connections/replies.ts) as it closes a member as too slow, with `user` and `buffered`. */
const TOO_SLOW = 'closing a member that is too slow';

const slowCloses: SlowClose[] = [];

/**
 * rooms' logger, which writes nothing: it only notes each member rooms closes as too slow, with
 * what that member's socket held (`buffered`, its writableLength) when rooms gave up on it, read
 * from the arguments of the log call itself.
 */
const logger = pino({
  level: 'warn',
  hooks: {
    logMethod(args) {
      const [fields, message] = args as unknown[];
      if (message !== TOO_SLOW || typeof fields !== 'object' || fields === null) return;
      const { user, buffered } = fields as { user?: unknown; buffered?: unknown };
      if (typeof buffered === 'number') slowCloses.push({ user: typeof user === 'string' ? user : '', buffered, at: nowMs() });
    },
  },
});

/** rooms' --redis for `target`. */
function redisUrl(target: RedisTarget): string {
  switch (target.topology) {
    case 'single':
      return `redis://127.0.0.1:${target.ports[0]}`;
    case 'cluster':
      return `redis+cluster://${target.ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
  }
}

/** Every option the benchmark passes to rooms. Rate limits, when rooms gets them, are raised here. */
const ROOMS_OPTIONS: RoomServerOptions = {
  port: 0,
  host: '127.0.0.1',
  logger,
  // The minimal client answers pings, but no heartbeat or auth deadline should fire during a run,
  // unless the measurement asks for heartbeats (the scale scenario does: they are part of its stalls).
  heartbeatInterval: settings.heartbeatMs ?? 3_600_000,
  authTimeout: 3_600_000,
  // The overload scenario sets it; every other measurement runs with rooms' default.
  maxBufferedBytes: settings.maxBufferedBytes,
  // The scenarios of several nodes run each on a Redis of its own, with rooms' defaults for the rest.
  redis: settings.redis === undefined ? undefined : redisUrl(settings.redis),
  // The load generator is one well-behaved peer opening thousands of connections and publishing
  // as fast as credit allows: the limits meant for hostile clients are lifted.
  messageRate: 0,
  maxConnectionsPerIp: 1_000_000,
};

await host(async () => {
  const server = createRoomServer(ROOMS_OPTIONS);
  const address = await server.listen();
  return {
    port: address.port,
    connections: () => server.connections,
    createEmptyChannels(count) {
      for (let i = 0; i < count; i++) server.registry.getOrCreate('/channel', `c${i}`);
    },
    reapEmptyChannels: () => server.registry.reap(),
    slowCloses: () => ({ maxBufferedBytes: server.config.maxBufferedBytes, closes: slowCloses }),
  };
});
