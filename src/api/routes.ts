import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Channel } from '../channels/channel.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { Publisher, PublishOutcome } from '../connections/publisher.js';
import type { Replies } from '../connections/replies.js';
import { CHANNEL_ID } from '../protocol/decode.js';
import type { ChannelDetail, ChannelSummary } from '../wire/api.js';
import { readBody } from './body.js';
import type { ApiKeys } from './keys.js';
import { parsePublish } from './publish.js';
import { allowed, json, READ, refuse } from './reply.js';

export interface ApiContext {
  config: Readonly<Config>;
  keys: ApiKeys;
  registry: ChannelRegistry;
  publisher: Publisher;
  replies: Replies;
  metrics: Metrics;
}

/**
 * The HTTP API for backends, under /api: every request needs `Authorization: Bearer KEY`; with no
 * apiKeys configured, every request gets 403 `api_off`.
 *   GET    /api/channels
 *   GET    /api/channels/{path}/{id}
 *   POST   /api/channels/{path}/{id}/messages
 *   DELETE /api/channels/{path}/{id}/members/{user}
 * `{path}` is a channel path without its leading slash, URL-encoded (`/a/b` is `a%2Fb`).
 */
export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  const from = authorized(ctx, req, res);
  if (from === null) return;
  let segments: string[];
  try {
    segments = pathname.split('/').slice(2).map(decodeURIComponent);
  } catch {
    return refuse(ctx.metrics, res, 'bad_request', `bad percent-encoding in ${pathname.slice(0, 200)}`);
  }
  if (segments.at(-1) === '') segments.pop();
  const route = routeOf(segments);
  if (route === null) return notFound(ctx, res, pathname);
  const methods = METHODS[route.action];
  if (!allowed(ctx.metrics, req, res, methods, `${req.method} is not allowed here; use ${methods}`)) return;
  if (route.action === 'list') return json(res, 200, { channels: channelSummaries(ctx.registry) });
  if (route.action === 'publish') {
    const path = channelPath(ctx, res, route.path, route.id);
    return path === null ? undefined : publish(ctx, req, res, path, route.id, from);
  }
  const channel = findChannel(ctx, res, route.path, route.id);
  if (channel === null) return;
  switch (route.action) {
    case 'describe':
      return describeChannel(res, channel);
    case 'remove':
      return removeMember(ctx, res, channel, route.user);
  }
}

/**
 * The name of the API key a request carries; null, once refused (403 `api_off` when no key is
 * configured, 401 `unauthorized` for a missing or wrong one), when it carries none of them.
 */
export function authorized(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): string | null {
  if (ctx.config.apiKeys.length === 0) {
    refuse(ctx.metrics, res, 'api_off');
    return null;
  }
  const from = ctx.keys.identify(req.headers.authorization);
  if (from === null) refuse(ctx.metrics, res, 'unauthorized');
  return from;
}

type Route = { action: 'list' } | { action: 'describe' | 'publish'; path: string; id: string } | { action: 'remove'; path: string; id: string; user: string };

const METHODS: Record<Route['action'], string> = { list: READ, describe: READ, publish: 'POST', remove: 'DELETE' };

/** Which route decoded path segments (after /api) name, or null for none. */
function routeOf(segments: string[]): Route | null {
  const [collection, path, id, sub, user] = segments;
  if (collection !== 'channels') return null;
  if (path === undefined) return { action: 'list' };
  if (id === undefined) return null;
  if (segments.length === 3) return { action: 'describe', path, id };
  if (segments.length === 4 && sub === 'messages') return { action: 'publish', path, id };
  if (segments.length === 5 && sub === 'members') return { action: 'remove', path, id, user: user };
  return null;
}

function notFound(ctx: ApiContext, res: ServerResponse, pathname: string): void {
  refuse(ctx.metrics, res, 'not_found', `no route ${pathname.slice(0, 200)}; see docs/api.md`);
}

/** The channel path (with its slash) when the path and id are valid; otherwise answers and gives null. */
function channelPath(ctx: ApiContext, res: ServerResponse, path: string, id: string): string | null {
  const fullPath = `/${path}`;
  if (!ctx.config.paths.includes(fullPath)) {
    refuse(ctx.metrics, res, 'unknown_path', `unknown path ${JSON.stringify(fullPath.slice(0, 80))}; channel paths are ${ctx.config.paths.join(', ')}`);
    return null;
  }
  if (!CHANNEL_ID.test(id)) {
    refuse(ctx.metrics, res, 'invalid_id', 'invalid channel id; use 1 to 64 characters of A-Z a-z 0-9 . _ ~ -');
    return null;
  }
  return fullPath;
}

/** The channel on this node; otherwise answers 404 and gives null. */
function findChannel(ctx: ApiContext, res: ServerResponse, path: string, id: string): Channel | null {
  const fullPath = channelPath(ctx, res, path, id);
  if (fullPath === null) return null;
  const channel = ctx.registry.get(fullPath, id);
  if (channel === undefined) refuse(ctx.metrics, res, 'no_such_channel', `no channel ${id} under ${fullPath} on this server`);
  return channel ?? null;
}

function summary(channel: Channel): ChannelSummary {
  return {
    path: channel.path,
    id: channel.id,
    members: channel.members.size,
    connections: channel.connections.size,
    seq: channel.seq ?? 0,
    created: new Date(channel.created).toISOString(),
    lastActivity: new Date(channel.lastActivity).toISOString(),
  };
}

/** Every channel on this node, as GET /api/channels lists them; GET /channels shows part of each. */
export function channelSummaries(registry: ChannelRegistry): ChannelSummary[] {
  return Array.from(registry.values(), summary);
}

function describeChannel(res: ServerResponse, channel: Channel): void {
  const detail: ChannelDetail = { ...summary(channel), members: [...channel.members.keys()] };
  json(res, 200, detail);
}

async function publish(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, path: string, id: string, from: string): Promise<void> {
  const limit = ctx.config.apiMaxBodyBytes;
  const body = await readBody(req, limit);
  if (!body.ok) {
    if (!body.tooLarge) return;
    res.setHeader('Connection', 'close');
    return refuse(ctx.metrics, res, 'payload_too_large', `request body over ${limit} bytes (apiMaxBodyBytes)`);
  }
  const parsed = parsePublish(body.text, ctx.config.maxRecipients);
  if (!parsed.ok) return refuse(ctx.metrics, res, parsed.code, parsed.message);
  ctx.metrics.messageIn('api', Buffer.byteLength(body.text));
  const { message, to, event } = parsed.request;
  let outcome: PublishOutcome;
  try {
    outcome = await ctx.publisher.publishFrom(path, id, from, message, to, event);
  } catch {
    return refuse(ctx.metrics, res, 'unavailable', 'cluster store unreachable: the message may not have been sent; retry');
  }
  if (outcome.ok) return json(res, 200, { seq: outcome.seq, epoch: outcome.epoch });
  if ('empty' in outcome) return refuse(ctx.metrics, res, 'no_such_channel', `no member in channel ${id} under ${path} on any node`);
  refuse(ctx.metrics, res, 'no_such_user', `not in channel ${id}: ${outcome.missing.join(', ')}; nothing was sent`, { missing: outcome.missing });
}

function removeMember(ctx: ApiContext, res: ServerResponse, channel: Channel, user: string): void {
  const member = channel.members.get(user);
  if (member === undefined) return refuse(ctx.metrics, res, 'no_such_user', `no member ${JSON.stringify(user.slice(0, 40))} in channel ${channel.id}`);
  ctx.replies.fail(member, 'removed');
  res.writeHead(204).end();
}
