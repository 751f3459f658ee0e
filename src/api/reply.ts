import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, say, statusOf, type ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';

/** The methods of an endpoint that only reads, as an Allow header lists them. */
export const READ = 'GET, HEAD';

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

/** Whether the request's method is one of `methods` (as an Allow header lists them); otherwise answers 405 with Allow and `message`. */
export function allowed(metrics: Metrics, req: IncomingMessage, res: ServerResponse, methods: string, message: string): boolean {
  if (methods.split(', ').includes(req.method ?? '')) return true;
  res.setHeader('Allow', methods);
  refuse(metrics, res, 'method_not_allowed', message);
  return false;
}

/** Whether the request is a GET or a HEAD; otherwise answers 405 saying that `pathname` answers GET only. */
export function getOnly(metrics: Metrics, req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  return allowed(metrics, req, res, READ, say('method_not_allowed', { what: pathname }));
}
