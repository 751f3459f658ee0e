import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** One JSON event a line on stdout, as pino writes them. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { name: 'rooms' } });
}

/** A URL as logs and banners show it: without its user, password and query (which may carry them); one that does not parse is not shown. */
export function withoutCredentials(url: string): string {
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
