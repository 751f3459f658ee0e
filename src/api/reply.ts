import type { ServerResponse } from 'node:http';
import { ERRORS, statusOf, type ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';

/** Writes a JSON response. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Refuses a request with the error's status and `{"error":{"code","message",...details}}`, and
 * counts it in rooms_refusals_total.
 */
export function refuse(metrics: Metrics, res: ServerResponse, code: ErrorCode, message: string = ERRORS[code].message, details: Record<string, unknown> = {}): void {
  const status = statusOf(code);
  metrics.refused(status, code);
  json(res, status, { error: { code, message, ...details } }, code === 'unauthorized' ? { 'WWW-Authenticate': 'Bearer realm="rooms"' } : {});
}
