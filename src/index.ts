/**
 * rooms: a WebSocket room server. Importing this module starts nothing.
 *
 * @example
 * import { createRoomServer } from 'rooms-server';
 * const server = createRoomServer({ port: 0 });
 * const { port } = await server.listen();
 * // clients connect to ws://127.0.0.1:${port}/channel?id=1
 * await server.close();
 */
import { RoomServer, type RoomServerOptions } from './server.js';

export { RoomServer, type RoomServerEvents, type RoomServerOptions } from './server.js';
export { ChannelRegistry } from './channels/registry.js';
export { Channel } from './channels/channel.js';
export { DEFAULTS, SETTINGS, type Config, type LogLevel } from './config.js';
export { ERRORS, ConfigError, type ErrorCode, type ErrorRow } from './errors.js';

/** Creates a room server with the given settings over the defaults; call listen() to start it. */
export function createRoomServer(options: RoomServerOptions = {}): RoomServer {
  return new RoomServer(options);
}
