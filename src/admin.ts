import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';
import { refuse } from './api/reply.js';
import { StaticPage } from './static.js';

/**
 * The admin page's static files. The page itself holds nothing secret: it asks for an API key
 * and reads everything through /api. Files are read once, then served from memory.
 */
export class AdminPage {
  private readonly page = new StaticPage({
    // Where `npm run build` puts the admin page, from src/ and dist/ alike.
    root: new URL('../dist/web/admin/', import.meta.url),
    files: { '/admin': 'index.html', '/admin/': 'index.html', '/admin/admin.js': 'admin.js', '/admin/admin.css': 'admin.css' },
    // The page only ever talks to this server, and runs no inline script.
    policy: "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    notBuilt: { code: 'not_found', message: 'the admin page is not built: run npm run build' },
    readOnce: true,
  });

  /** Whether a pathname belongs to the admin page. */
  serves(pathname: string): boolean {
    return pathname === '/admin' || pathname.startsWith('/admin/');
  }

  async handle(metrics: Metrics, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (!this.page.has(pathname)) return refuse(metrics, res, 'not_found', `no route ${pathname.slice(0, 200)}; the admin page is at /admin`);
    return this.page.serve(metrics, req, res, pathname);
  }
}
