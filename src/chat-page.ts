import { StaticPage } from './static.js';

/**
 * The chat page and its files. The page connects to the first channel path, which only the
 * server knows, so it is written into the page's `data-path`. Files are read on every request; a
 * missing one means the page was not built: 503 `page_not_built` says how to build it.
 */
export function chatPage(channelPath: string): StaticPage {
  return new StaticPage({
    // Where `npm run build` puts the chat page, from src/ and dist/ alike.
    root: new URL('../dist/web/chat/', import.meta.url),
    files: { '/': 'index.html', '/chat/chat.js': 'chat.js', '/chat/chat.css': 'chat.css' },
    // Everything the page loads comes from this server, so users can run it offline and nothing else can inject into it.
    policy: "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    notBuilt: { code: 'page_not_built' },
    readOnce: false,
    index: (html) => html.replace('data-path="/channel"', `data-path="${channelPath}"`),
  });
}
