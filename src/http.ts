import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminPage } from './admin.js';
import { authorized, channelSummaries, handleApi, type ApiContext } from './api/routes.js';
import { getOnly, json, refuse } from './api/reply.js';
import type { ChannelRegistry } from './channels/registry.js';
import type { Engine } from './engine/engine.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { StaticPage } from './static.js';
import type { ChannelSummary } from './wire/api.js';

export interface HttpContext {
  paths: readonly string[];
  registry: ChannelRegistry;
  started: number;
  connections: () => number;
  accepting: () => boolean;
  engine: Engine;
  /** False while the node re-joins its members and catches up after Redis came back. */
  synced: () => boolean;
  metrics: Metrics;
  /** The cluster worker id under `rooms --workers N`; null for a server on its own. */
  worker: number | null;
  api: ApiContext;
  admin: AdminPage;
  /** The chat page, at /. */
  chat: StaticPage;
  log: Logger;
}

/** A channel as GET /channels lists it: part of what GET /api/channels says of it. */
export type ChannelInfo = Pick<ChannelSummary, 'path' | 'id' | 'members' | 'connections' | 'created'>;

/**
 * The plain HTTP endpoints: GET /livez, /readyz, /healthz and /metrics, GET /channels (with an API
 * key: channel ids are often private), the API under /api, the admin page under /admin, and the
 * chat page at /; anything else is a JSON 404. They keep answering while the server drains at
 * shutdown.
 */
export function handleRequest(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  if (pathname === '/api' || pathname.startsWith('/api/')) return respond(ctx, res, handleApi(ctx.api, req, res, pathname));
  if (ctx.admin.serves(pathname)) return respond(ctx, res, ctx.admin.handle(ctx.metrics, req, res, pathname));
  if (ctx.chat.has(pathname)) return respond(ctx, res, ctx.chat.serve(ctx.metrics, req, res, pathname));
  const route = ROUTES[pathname];
  if (route !== undefined || pathname === '/metrics' || pathname === '/channels') {
    if (!getOnly(ctx.metrics, req, res, pathname)) return;
    if (pathname === '/channels') return channels(ctx, req, res);
    if (route === undefined) return respond(ctx, res, metrics(ctx, res));
    const { code, body } = route(ctx);
    return json(res, code, body);
  }
  if (ctx.paths.includes(pathname)) {
    return refuse(ctx.metrics, res, 'upgrade_required', `${pathname} takes WebSocket connections: connect to ws://HOST${pathname}?id=<id>`);
  }
  refuse(ctx.metrics, res, 'not_found', `no route ${pathname.slice(0, 200)}; try /healthz, /channels, /metrics, /api or /admin`);
}

/** What /healthz and /readyz say: `degraded` while Redis is unreachable or the node catches up after it came back. */
type Health = 'ok' | 'degraded' | 'shutting_down';

function health(ctx: HttpContext): Health {
  if (!ctx.accepting()) return 'shutting_down';
  return ctx.engine.up && ctx.synced() ? 'ok' : 'degraded';
}

interface Answer {
  code: number;
  body: unknown;
}

const ROUTES: Record<string, (ctx: HttpContext) => Answer> = {
  /** Liveness: the process answers, also while it drains. */
  '/livez': () => ({ code: 200, body: { status: 'ok' } }),
  /** Readiness: whether to send this node new clients; 503 while degraded or shutting down. */
  '/readyz': (ctx) => {
    const status = health(ctx);
    return { code: status === 'ok' ? 200 : 503, body: { status } };
  },
  '/healthz': (ctx) => ({
    code: 200,
    body: {
      status: health(ctx),
      ...(ctx.worker === null ? {} : { worker: ctx.worker }),
      engine: ctx.engine.kind,
      uptime: Math.round((Date.now() - ctx.started) / 1000),
      channels: ctx.registry.size,
      connections: ctx.connections(),
    },
  }),
};

/** GET /channels: every channel on this node with its member count, for a holder of an API key. */
function channels(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  if (authorized(ctx.api, req, res) === null) return;
  const list = channelSummaries(ctx.registry).map(({ path, id, members, connections, created }): ChannelInfo => ({ path, id, members, connections, created }));
  json(res, 200, { channels: list });
}

async function metrics(ctx: HttpContext, res: ServerResponse): Promise<void> {
  const text = await ctx.metrics.exposition();
  res.writeHead(200, { 'Content-Type': ctx.metrics.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** An asynchronous handler that fails answers 500 (when it still can) instead of leaving the request hanging. */
function respond(ctx: HttpContext, res: ServerResponse, work: Promise<void>): void {
  work.catch((err: unknown) => {
    ctx.log.error({ err }, 'failed to answer an HTTP request');
    if (!res.headersSent) refuse(ctx.metrics, res, 'internal_error', 'internal error: the server could not answer this request');
    else res.destroy();
  });
}
