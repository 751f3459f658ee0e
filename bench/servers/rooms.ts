// The product: rooms, started through its public API.
import { createRoomServer, type RoomServerOptions } from '../../src/index.js';
import { serverSettings } from '../lib/api.js';
import { host } from './host.js';

const settings = serverSettings();

/** Every option the benchmark passes to rooms. Rate limits, when rooms gets them, are raised here. */
const ROOMS_OPTIONS: RoomServerOptions = {
  port: 0,
  host: '127.0.0.1',
  logLevel: 'silent',
  // The minimal client answers pings, but no heartbeat or auth deadline should fire during a run,
  // unless the measurement asks for heartbeats (the scale scenario does: they are part of its stalls).
  heartbeatInterval: settings.heartbeatMs ?? 3_600_000,
  authTimeout: 3_600_000,
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
  };
});
