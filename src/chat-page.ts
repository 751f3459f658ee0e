import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { refuse } from './api/reply.js';
import type { Metrics } from './metrics.js';

/** A built file of the chat page. */
export interface Asset {
  file: string;
  type: string;
}

/** Where `npm run build` puts the chat page, from src/ and dist/ alike. */
const ROOT = new URL('../dist/web/chat/', import.meta.url);

/** The chat page and its files, by URL path: only these paths reach the disk. */
export const CHAT_ASSETS: Readonly<Record<string, Asset>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/chat/chat.js': { file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  '/chat/chat.css': { file: 'chat.css', type: 'text/css; charset=utf-8' },
};

/** Everything the page loads comes from this server, so users can run it offline and nothing else can inject into it. */
const POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Sends a file of the chat page. The page connects to the first channel path, which only the
 * server knows, so it is written into the page's `data-path`. A missing file means the page was
 * not built: 503 `page_not_built` says how to build it.
 */
export async function sendChatAsset(metrics: Metrics, res: ServerResponse, asset: Asset, head: boolean, channelPath: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(new URL(asset.file, ROOT), 'utf8');
  } catch {
    return refuse(metrics, res, 'page_not_built');
  }
  const body = asset.file === 'index.html' ? text.replace('data-path="/channel"', `data-path="${channelPath}"`) : text;
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': POLICY,
    'Referrer-Policy': 'no-referrer',
  });
  res.end(head ? undefined : body);
}
