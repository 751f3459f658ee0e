import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';
import { refuse } from './api/reply.js';
import { say } from './errors.js';

/** Where `npm run build` puts the admin page, from src/ and dist/ alike. */
const ROOT = new URL('../dist/web/admin/', import.meta.url);

const ASSETS: Record<string, { file: string; type: string }> = {
  '/admin': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/admin/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/admin/admin.js': { file: 'admin.js', type: 'text/javascript; charset=utf-8' },
  '/admin/admin.css': { file: 'admin.css', type: 'text/css; charset=utf-8' },
};

/**
 * The admin page's static files. The page itself holds nothing secret: it asks for an API key
 * and reads everything through /api. Files are read once, then served from memory.
 */
export class AdminPage {
  private readonly cache = new Map<string, Buffer>();

  /** Whether a pathname belongs to the admin page. */
  serves(pathname: string): boolean {
    return pathname === '/admin' || pathname.startsWith('/admin/');
  }

  async handle(metrics: Metrics, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const asset = ASSETS[pathname];
    if (asset === undefined) return refuse(metrics, res, 'not_found', `no route ${pathname.slice(0, 200)}; the admin page is at /admin`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return refuse(metrics, res, 'method_not_allowed', say('method_not_allowed', { what: pathname }));
    }
    let body = this.cache.get(asset.file);
    if (body === undefined) {
      try {
        body = await readFile(new URL(asset.file, ROOT));
      } catch {
        return refuse(metrics, res, 'not_found', 'the admin page is not built: run npm run build');
      }
      this.cache.set(asset.file, body);
    }
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      // The page only ever talks to this server, and runs no inline script.
      'Content-Security-Policy': "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
    });
    res.end(body);
  }
}
