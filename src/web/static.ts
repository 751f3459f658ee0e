import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { ERRORS, statusOf } from '../errors.js';

/** A built file the server hands out as it is. */
export interface Asset {
  file: URL;
  type: string;
}

/** dist/web, from src/web (tests run the sources) as from dist/web: both sit in the package root. */
const BUILT = new URL('../../dist/web/', import.meta.url);

/** The chat page and its files, by URL path: only these paths reach the disk. */
export const CHAT_ASSETS: Readonly<Record<string, Asset>> = {
  '/': { file: new URL('chat/index.html', BUILT), type: 'text/html; charset=utf-8' },
  '/chat/chat.js': { file: new URL('chat/chat.js', BUILT), type: 'text/javascript; charset=utf-8' },
  '/chat/chat.css': { file: new URL('chat/chat.css', BUILT), type: 'text/css; charset=utf-8' },
};

/** Everything the page loads comes from this server, so users can run it offline and nothing else can inject into it. */
const POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Sends a built asset, after `edit` for a page that needs the server's settings written in. A
 * missing file means the page was not built: 503 `page_not_built` says how to build it.
 */
export async function sendAsset(res: ServerResponse, asset: Asset, head: boolean, edit?: (text: string) => string): Promise<void> {
  let text: string;
  try {
    text = await readFile(asset.file, 'utf8');
  } catch {
    const body = JSON.stringify({ error: { code: 'page_not_built', message: ERRORS.page_not_built.message } });
    res.writeHead(statusOf('page_not_built'), { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const body = edit === undefined ? text : edit(text);
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': POLICY,
  });
  res.end(head ? undefined : body);
}
