import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { wildcard, type Identity, type JwtVerifier } from './auth/jwt.js';
import { bearer } from './auth/token.js';
import type { Resume } from './channels/connection.js';
import type { Hub } from './connections/hub.js';
import type { ChannelRegistry } from './channels/registry.js';
import type { Config } from './config.js';
import { ERRORS, say, statusOf, type ErrorCode } from './errors.js';
import type { Metrics } from './metrics.js';
import type { Logger } from './log.js';
import { CHANNEL_ID, validEpoch, validSince } from './protocol/decode.js';
import { ENVELOPE_PROTOCOL } from './protocol/envelope.js';
import { guard } from './protocol/guard.js';
import type { Session } from './connections/session.js';

/** Why an upgrade is refused during a drain, and what to do. */
const SHUTTING_DOWN = `${ERRORS.shutting_down.message}; reconnect to another instance or later`;


export interface UpgradeContext {
  config: Readonly<Config>;
  /** Whether an Origin header value may connect; null when any origin may. */
  origins: ((origin: string) => boolean) | null;
  registry: ChannelRegistry;
  hub: Hub;
  session: Session;
  log: Logger;
  /** Verifies tokens given at the upgrade in token mode; null in open mode. */
  jwt: JwtVerifier | null;
  /** False once the server is shutting down: new connections are refused with 503. */
  accepting: () => boolean;
  metrics: Metrics;
}

/**
 * Routes an HTTP upgrade: the pathname picks the channel path, the `id` query the channel, and the
 * channel's WebSocketServer completes the handshake (and the session's Link takes the socket after it). Anything else is refused with a complete
 * HTTP response written on the raw socket. ws answers its own handshake errors (bad key, version).
 */
export function routeUpgrade(ctx: UpgradeContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', destroy);
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));

  const config = ctx.config;
  if (!ctx.accepting()) return refuse(ctx, socket, 'shutting_down', SHUTTING_DOWN);
  const path = config.paths.find((p) => p === pathname);
  if (path === undefined) {
    return refuse(ctx, socket, 'unknown_path', `unknown path ${printable(pathname)}; channels live under ${config.paths[0]}?id=<id>`);
  }
  const ids = params.getAll('id');
  if (ids.length === 0 || ids[0] === '') return refuse(ctx, socket, 'missing_id', say('missing_id', { path }));
  const id = ids[0];
  if (ids.length > 1) return refuse(ctx, socket, 'invalid_id', 'give the channel id once');
  if (!CHANNEL_ID.test(id)) {
    return refuse(ctx, socket, 'invalid_id', say('invalid_id', { id: printable(id) }));
  }

  const resume = resumeFrom(params);
  if (typeof resume === 'string') return refuse(ctx, socket, resume, ERRORS[resume].message);

  const origin = req.headers.origin;
  if (origin === undefined) {
    if (config.requireOrigin) return refuse(ctx, socket, 'origin_not_allowed', 'an Origin header is required here');
  } else if (ctx.origins !== null && !ctx.origins(origin)) {
    return refuse(ctx, socket, 'origin_not_allowed', say('origin_not_allowed', { origin: printable(origin) }));
  }
  const ip = req.socket.remoteAddress ?? 'unknown';
  const jwt = ctx.jwt;
  const token = jwt === null ? null : (params.get('token') ?? bearer(req.headers.authorization));
  if (jwt === null || token === null) return admit(ctx, req, socket, head, { path, id, ip, identity: null, resume });
  // A failure here costs this socket only: 500, and it is closed.
  const verify = (): Promise<void> => jwt.verify(token, path, id).then((verified) => {
    if (!verified.ok) return refuse(ctx, socket, 'bad_token', verified.reason);
    admit(ctx, req, socket, head, { path, id, ip, identity: verified.identity, resume });
  });
  const failed = (): void => refuse(ctx, socket, 'internal_error', 'internal error: the server could not check the token; retry later');
  guard(ctx.log, "to verify the upgrade's token", () => ({ path, channel: id, ip }), verify, failed);
}

/** `?since=&epoch=` of a client coming back; null when absent, an error code when malformed. */
function resumeFrom(params: URLSearchParams): Resume | null | 'bad_since' | 'bad_epoch' {
  const rawSince = params.get('since');
  const rawEpoch = params.get('epoch');
  const since = rawSince === null ? null : validSince(rawSince);
  if (rawSince !== null && since === null) return 'bad_since';
  const epoch = rawEpoch === null ? null : validEpoch(rawEpoch);
  if (rawEpoch !== null && epoch === null) return 'bad_epoch';
  return since === null ? null : { since, epoch };
}

interface Admission {
  path: string;
  id: string;
  ip: string;
  identity: Identity | null;
  resume: Resume | null;
}

/** The capacity checks, then the handshake; synchronous from the checks to the connection joining. */
function admit(ctx: UpgradeContext, req: IncomingMessage, socket: Duplex, head: Buffer, a: Admission): void {
  const config = ctx.config;
  if (!ctx.accepting()) return refuse(ctx, socket, 'shutting_down', SHUTTING_DOWN);
  if (ctx.hub.fromIp(a.ip) >= config.maxConnectionsPerIp) {
    return refuse(ctx, socket, 'too_many_from_ip', say('too_many_from_ip', { ip: a.ip, limit: config.maxConnectionsPerIp }));
  }
  if (ctx.hub.size >= config.maxConnections) {
    return refuse(ctx, socket, 'server_full', say('server_full', { limit: config.maxConnections }));
  }
  const existing = ctx.registry.get(a.path, a.id);
  if (existing === undefined && ctx.registry.size >= config.maxChannels) {
    return refuse(ctx, socket, 'too_many_channels', say('too_many_channels', { limit: config.maxChannels }));
  }
  if (existing !== undefined && existing.connections.size >= config.maxMembersPerChannel) {
    return refuse(ctx, socket, 'channel_full', say('channel_full', { limit: config.maxMembersPerChannel }));
  }
  // The reaper cannot remove this channel between the lookup and the connection joining it.
  const channel = existing ?? ctx.registry.getOrCreate(a.path, a.id);
  channel.wss.handleUpgrade(req, socket, head, (ws) => {
    socket.removeListener('error', destroy);
    const connection = ctx.session.open(channel, socket, head, a.ip, a.identity);
    connection.resume = a.resume;
    connection.envelope = ws.protocol === ENVELOPE_PROTOCOL;
  });
}

/**
 * Compiles allowedOrigins into one test; `*` stands for one or more host name labels, so
 * `https://*.example.com` allows `https://a.example.com` and `https://a.b.example.com` but not
 * `https://example.com`. Origins compare without regard to case. `null` never matches.
 */
export function originMatcher(allowed: readonly string[]): ((origin: string) => boolean) | null {
  if (allowed.length === 0) return null;
  const alternatives = allowed.map((o) => wildcard(o, '[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*'));
  const pattern = new RegExp(`^(?:${alternatives.join('|')})$`, 'i');
  return (origin) => pattern.test(origin);
}

/** ws's abortHandshake, with a one-line body saying what is wrong. */
function refuse(ctx: UpgradeContext, socket: Duplex, code: ErrorCode, body: string): void {
  const status = statusOf(code);
  ctx.metrics.refused(status, code);
  const text = `${body}\n`;
  socket.once('finish', destroy);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      `X-Rooms-Error: ${code}\r\n` +
      '\r\n' +
      text,
  );
}

function destroy(this: Duplex): void {
  this.destroy();
}

/** User input echoed in a response: no control characters, bounded length. */
function printable(text: string): string {
  const clean = text.replace(/\p{Cc}/gu, '?');
  return clean.length > 80 ? `${clean.slice(0, 80)}...` : clean;
}
