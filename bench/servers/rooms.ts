// The product: rooms, started through its public API.
import { createRoomServer } from '../../src/index.js';
import { host } from './host.js';

/** Every option the benchmark passes to rooms. Rate limits, when rooms gets them, are raised here. */
const ROOMS_OPTIONS = {
  port: 0,
  host: '127.0.0.1',
  logLevel: 'silent',
  // The minimal client answers pings, but no heartbeat or auth deadline should fire during a run.
  heartbeatInterval: 3_600_000,
  authTimeout: 3_600_000,
  // The load generator is one well-behaved peer opening thousands of connections and publishing
  // as fast as credit allows: the limits meant for hostile clients are lifted.
  messageRate: 0,
  maxConnectionsPerIp: 1_000_000,
} as const;

await host(async () => {
  const server = createRoomServer(ROOMS_OPTIONS);
  const address = await server.listen();
  return {
    port: address.port,
    createEmptyChannels(count) {
      for (let i = 0; i < count; i++) server.registry.getOrCreate('/channel', `c${i}`);
    },
    reapEmptyChannels: () => server.registry.reap(),
  };
});
