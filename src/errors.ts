import { CLOSES, type Close } from './wire/closes.js';

/**
 * Every error a user can see, in one table: its stable code, the message sent with it, the HTTP
 * status when it refuses an upgrade or an HTTP request, and the WebSocket close code when it ends
 * a connection. docs/protocol.md documents each row; a test checks that every code is documented.
 *
 * Where the classic ws chat example's protocol has a message for a case, `message` keeps its
 * words (typos included), so that example's client reads them as before.
 */
export interface ErrorRow {
  /**
   * Sent as `message` in the error event, or as the one-line body of an HTTP refusal. A row whose
   * message names `{placeholders}` is a template, filled at the call site with {@link say}.
   */
  message: string;
  /** HTTP status when the error refuses an upgrade or a request. */
  status?: number;
  /** How the connection is closed when the error ends it (src/wire/closes.ts); absent when it stays open. */
  close?: Close;
}

const ROWS = {
  bad_json: { message: 'message is not json' },
  no_event: { message: 'no event' },
  bad_event: { message: 'frame must be a JSON object with an "event" string' },
  unknown_event: { message: 'unkonwn command' },
  not_authenticated: { message: 'not authenticated: send {"event":"auth","user":NAME} first' },
  already_authenticated: { message: 'already authenticated on this connection' },
  bad_token: { message: 'auth error,bad token: send the token from your "token" reply', status: 401 },
  token_expired: { message: 'token expired: send a fresh one in a refresh event before it runs out', close: CLOSES.bad_token },
  invalid_name: {
    message: 'auth error,invalid user name: use 1 to 32 characters, no control characters',
    close: CLOSES.invalid_name,
  },
  name_taken: { message: 'auth error,user name already exist', close: CLOSES.name_taken },
  auth_timeout: { message: 'auth timeout: send auth within the deadline', close: CLOSES.auth_timeout },
  too_slow: { message: 'too slow: the connection did not keep up with its messages', close: CLOSES.too_slow },
  missed_messages: { message: 'missed messages that history no longer holds: reconnect with since and epoch, and resync if the reply says recovered: false', close: CLOSES.missed_messages },
  no_such_user: { message: 'no such user in this channel', status: 404 },
  bad_recipients: { message: 'with_clients must be a non-empty array of user names', status: 400 },
  bad_message: { message: 'message is required', status: 400 },
  message_too_deep: { message: 'message nests arrays or objects more than 64 levels deep', status: 400 },
  internal_error: { message: 'internal error: the server could not handle this frame', close: CLOSES.internal_error },
  bad_id: { message: 'id must be a string of at most 64 characters or a finite number' },
  bad_presence: { message: 'presence must be true or false' },
  bad_envelope: { message: 'bad envelope: send a 4-byte big-endian type 0, then a JSON ChatMessage with "message"' },
  bad_since: { message: 'since must be a whole number from 0: the seq of the last message you received', status: 400 },
  bad_epoch: { message: 'epoch must be the epoch string from your last token reply or message', status: 400 },
  unavailable: { message: 'cluster store unreachable: the message may not have been sent; retry with the same id', status: 503 },
  rate_limited: { message: 'rate limited: too many frames; wait retryAfterMs before sending again', close: CLOSES.rate_limited },
  message_too_long: { message: 'message too long: {bytes} bytes, the limit is {limit}' },
  too_many_recipients: { message: 'too many recipients: {count}, the limit is {limit}', status: 400 },
  origin_not_allowed: { message: 'origin {origin} is not allowed to connect here', status: 403 },
  too_many_from_ip: { message: 'too many connections from {ip}: the limit is {limit} (maxConnectionsPerIp)', status: 429 },
  server_full: { message: 'server full: {limit} connections (maxConnections); try another instance or later', status: 503 },
  too_many_channels: { message: 'too many channels: the limit is {limit} (maxChannels); join an existing channel or try later', status: 503 },
  channel_full: { message: 'channel full: {limit} connections (maxMembersPerChannel); try later', status: 503 },
  unknown_path: { message: 'unknown path', status: 404 },
  missing_id: { message: 'missing channel id; connect to {path}?id=<id>', status: 400 },
  invalid_id: { message: 'invalid channel id {id}; use 1 to 64 characters of A-Z a-z 0-9 . _ ~ -', status: 400 },
  shutting_down: { message: 'server shutting down', status: 503, close: CLOSES.shutting_down },
  not_found: { message: 'not found', status: 404 },
  method_not_allowed: { message: '{what} answers GET only', status: 405 },
  upgrade_required: { message: 'upgrade required', status: 426 },
  removed: { message: 'removed by the server', close: CLOSES.removed },
  unauthorized: { message: 'unauthorized: send Authorization: Bearer <API key>', status: 401 },
  api_off: { message: 'the API is off: no apiKeys are configured; set apiKeys in a config file or ROOMS_API_KEYS (see docs/api.md)', status: 403 },
  bad_request: { message: 'bad request', status: 400 },
  bad_event_name: { message: 'event must be 1 to 32 characters of A-Z a-z 0-9 _ . : -, starting with a letter, and not a protocol event', status: 400 },
  payload_too_large: { message: 'request body too large', status: 413 },
  no_such_channel: { message: 'no such channel', status: 404 },
  page_not_built: { message: 'the chat page is not built: run npm run build', status: 503 },
  // Raised by the client library (rooms-server/client) on its side; the server never sends them.
  request_timeout: { message: 'no reply to the request within requestTimeout' },
  client_offline: { message: 'the client is offline' },
  upgrade_refused: { message: 'the server refused the connection' },
} satisfies Record<string, ErrorRow>;

export type ErrorCode = keyof typeof ROWS;

export const ERRORS: Readonly<Record<ErrorCode, ErrorRow>> = ROWS;

/** Fills a template row's `{placeholders}` (fastify's createError style): the sentence is written once, in the table. */
export function say(code: ErrorCode, values: Readonly<Record<string, string | number>>): string {
  return ERRORS[code].message.replace(/\{(\w+)\}/g, (whole, name: string) => String(values[name] ?? whole));
}

/** The HTTP status of an error that refuses a request; 500 for rows that have none. */
export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status ?? 500;
}

/** A setting given on the command line, in a config file, in the environment or to the API was bad. */
export class ConfigError extends TypeError {
  readonly setting: string;

  constructor(setting: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.setting = setting;
  }
}
