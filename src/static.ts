import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOnly, refuse } from './api/reply.js';
import type { ErrorCode } from './errors.js';
import type { Metrics } from './metrics.js';

/** The content type of each kind of file a page is built into, by the file's ending. */
const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
} as const;

/** The name of a built file: its ending gives its content type. */
export type BuiltFile = `${string}.${keyof typeof TYPES}`;

/** A page that `npm run build` writes to dist/web/, and how it is served. */
export interface PageFiles {
  /** The folder of the built page. */
  root: URL;
  /** The page's files (names in `root`) by URL path: only these paths reach the disk. */
  files: Readonly<Record<string, BuiltFile>>;
  /** The page's Content-Security-Policy. */
  policy: string;
  /** How a request is refused when its file is missing, that is when the page was not built. */
  notBuilt: { code: ErrorCode; message?: string };
  /** Read each file once and serve it from memory after, rather than read it on every request. */
  readOnce: boolean;
  /** Rewrites index.html as it is served. */
  index?: (html: string) => string;
}

/**
 * The built files of one page, answering GET and HEAD (405 with Allow otherwise) with the same
 * headers whatever the page: its own Content-Security-Policy, no-cache, nosniff, no referrer.
 */
export class StaticPage {
  private readonly cache = new Map<BuiltFile, Buffer>();

  constructor(private readonly page: PageFiles) {}

  /** Whether a pathname names one of the page's files. */
  has(pathname: string): boolean {
    return Object.hasOwn(this.page.files, pathname);
  }

  /** Sends the file at `pathname`, which {@link has} accepted. */
  async serve(metrics: Metrics, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (!getOnly(metrics, req, res, pathname)) return;
    const file = this.page.files[pathname];
    const body = this.cache.get(file) ?? (await this.read(file));
    if (body === null) return refuse(metrics, res, this.page.notBuilt.code, this.page.notBuilt.message);
    res.writeHead(200, {
      'Content-Type': typeOf(file),
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': this.page.policy,
      'Referrer-Policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** A file as it is sent, or null when it is missing. */
  private async read(file: BuiltFile): Promise<Buffer | null> {
    let body: Buffer;
    try {
      body = await readFile(new URL(file, this.page.root));
    } catch {
      return null;
    }
    const index = this.page.index;
    if (index !== undefined && file === 'index.html') body = Buffer.from(index(body.toString('utf8')));
    if (this.page.readOnce) this.cache.set(file, body);
    return body;
  }
}

function typeOf(file: BuiltFile): string {
  // A BuiltFile ends with one of the TYPES' keys, after its last dot.
  return TYPES[file.slice(file.lastIndexOf('.') + 1) as keyof typeof TYPES];
}
