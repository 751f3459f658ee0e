/**
 * rooms-server/client: a reconnecting, resuming client for rooms channels, for Node and browsers.
 *
 * @example
 * import { RoomsClient } from 'rooms-server/client';
 * const client = new RoomsClient('ws://127.0.0.1:3000/channel?id=1', { user: 'alice' });
 * await client.connect();
 */
export { RoomsClient, type RoomsClientOptions } from './rooms-client.js';
export { RoomsError, type RoomsErrorCode } from './errors.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export type { Ack, ChatMessage, ClientState, Recovery, RequestId, RoomsClientEvents, RoomsErrorLike } from './types.js';
