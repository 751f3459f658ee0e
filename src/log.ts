import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { isHostListUrl, shownHostListUrl } from './engine/redis-url.js';

export type { Logger };

/**
 * One JSON event a line on stdout, as pino writes them. `fields` go on every line: under
 * `--workers` the worker id and pid, or the primary's role, so that interleaved lines can be told apart.
 */
export function createLogger(level: LogLevel, fields: Readonly<Record<string, string | number>> = {}): Logger {
  return pino({ level, base: { name: 'rooms', ...fields } });
}

/**
 * A URL as logs and banners show it: without its user, password and query (which may carry them);
 * a Sentinel URL as its Sentinels, master and db. One that does not parse is not shown.
 */
export function withoutCredentials(url: string): string {
  if (isHostListUrl(url)) {
    try {
      return shownHostListUrl(url);
    } catch {
      return '(URL not shown)';
    }
  }
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '(URL not shown)';
  }
}
