import type { ChatMessage, RequestId } from '../wire/messages.js';

export type { ChatMessage, RequestId };

/** How the server answered a `publish`, `broadcast` or `to`. */
export interface Ack {
  /** The seq the message got; absent when it was delivered to this node's members only. */
  seq?: number;
  /** The server had already seen this request id: an earlier send of it was delivered. */
  duplicate: boolean;
  /** Delivered to the members on the server's node only, while its cluster store was down. */
  local: boolean;
}

/** Where the client stands. */
export type ClientState =
  /** Created; connect() not called yet. */
  | { state: 'idle' }
  /** Opening a socket and authenticating; attempt 0 is the first connection. */
  | { state: 'connecting'; attempt: number }
  /**
   * Authenticated: requests go out at once. `epoch` and `seq` are where the channel stood at the
   * server's reply (absent while its cluster store is unreachable): messages that follow with a
   * seq up to it in that epoch are replayed ones, from before this connection.
   */
  | { state: 'live'; epoch?: string; seq?: number }
  /** The link dropped; the next attempt starts after `delay` ms, at `at` (ms since the epoch). */
  | { state: 'reconnecting'; attempt: number; delay: number; at: number; code: number; reason: string }
  /** Stopped for good: close() was called, or the server refused the client (44xx, an HTTP 4xx). */
  | { state: 'offline'; code: number; reason: string; error?: RoomsErrorLike };

/** The fields of a RoomsError, as the `offline` state carries them. */
export interface RoomsErrorLike {
  code: string;
  message: string;
}

/** What the client tells after it reconnected. */
export interface Recovery {
  /** True when every message since the last one seen follows; false when some may be lost: resync. */
  recovered: boolean;
  /** The channel's epoch and seq as the server reported them on this connection. */
  epoch?: string;
  seq?: number;
}

/** The events a RoomsClient emits, with their arguments. */
export interface RoomsClientEvents {
  /** A message for this client (replayed ones after a resume first, in order). */
  message: [ChatMessage];
  /** A member joined (when `presence` is on). */
  join: [user: string];
  /** A member left (when `presence` is on). */
  leave: [user: string];
  /** A server error no request was waiting for (rate limits, an expired token, a refused auth). */
  error: [Error & RoomsErrorLike];
  /** The state changed. */
  state: [ClientState];
  /** After a reconnection: whether nothing was lost meanwhile. */
  recovered: [Recovery];
}

/**
 * The part of a WebSocket the client uses: the browser's WebSocket and the `ws` package's both
 * have it. Event objects are reduced to the fields read.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
}

export type SocketConstructor = new (url: string) => SocketLike;
