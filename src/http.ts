import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChannelRegistry } from './channels/registry.js';
import type { Engine } from './engine/engine.js';
import { statusOf, type ErrorCode } from './errors.js';
import { CHAT_ASSETS, sendAsset } from './web/static.js';

export interface HttpContext {
  paths: readonly string[];
  registry: ChannelRegistry;
  started: number;
  connections: () => number;
  accepting: () => boolean;
  engine: Engine;
}

/** A channel as GET /channels lists it. */
export interface ChannelInfo {
  path: string;
  id: string;
  members: number;
  connections: number;
  created: string;
}

/** The plain HTTP endpoints: GET /healthz, GET /channels and the chat page at GET /; anything else is a JSON 404. */
export function handleRequest(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const route = ROUTES[pathname];
  const asset = CHAT_ASSETS[pathname];
  if ((route !== undefined || asset !== undefined) && req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return error(res, 'method_not_allowed', `${pathname} answers GET only`);
  }
  if (route !== undefined) return json(res, 200, route(ctx));
  // The page connects to the first channel path, which only the server knows.
  if (asset !== undefined) return void sendAsset(res, asset, req.method === 'HEAD', (text) => text.replace('data-path="/channel"', `data-path="${ctx.paths[0]}"`));
  if (ctx.paths.includes(pathname)) {
    return error(res, 'upgrade_required', `${pathname} takes WebSocket connections: connect to ws://HOST${pathname}?id=<id>`);
  }
  error(res, 'not_found', `no route ${pathname}; try /healthz or /channels`);
}

const ROUTES: Record<string, (ctx: HttpContext) => unknown> = {
  '/healthz': (ctx) => ({
    status: !ctx.accepting() ? 'shutting_down' : ctx.engine.up ? 'ok' : 'degraded',
    engine: ctx.engine.kind,
    uptime: Math.round((Date.now() - ctx.started) / 1000),
    channels: ctx.registry.size,
    connections: ctx.connections(),
  }),
  '/channels': (ctx) => {
    const channels: ChannelInfo[] = [];
    for (const c of ctx.registry.values()) {
      channels.push({
        path: c.path,
        id: c.id,
        members: c.members.size,
        connections: c.connections.size,
        created: new Date(c.created).toISOString(),
      });
    }
    return { channels };
  },
};

function error(res: ServerResponse, code: ErrorCode, message: string): void {
  json(res, statusOf(code), { error: { code, message } });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
