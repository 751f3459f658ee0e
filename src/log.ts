import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** One JSON event a line on stdout, as pino writes them. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { name: 'rooms' } });
}
