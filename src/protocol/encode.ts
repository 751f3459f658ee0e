import { ERRORS, type ErrorCode } from '../errors.js';
import type { RequestId } from './messages.js';

/**
 * The JSON text of every event the server sends. Each is serialized once, however many members
 * receive it; `undefined` fields are left out by JSON.stringify.
 */
export function tokenEvent(token: string, re?: RequestId): string {
  return JSON.stringify({ event: 'token', message: token, re });
}

export function userListEvent(users: string[], re?: RequestId): string {
  return JSON.stringify({ event: 'user_list', message: users, re });
}

export interface Delivery {
  /** The event name; `message` unless the HTTP API gave another. */
  event?: string | undefined;
  message: unknown;
  from: string;
  channel: string;
  seq: number;
  ts: number;
}

export function messageEvent(d: Delivery): string {
  return JSON.stringify({ event: d.event ?? 'message', message: d.message, from: d.from, channel: d.channel, seq: d.seq, ts: d.ts });
}

export function helloworldEvent(message: unknown): string {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  return JSON.stringify({ event: 'helloworld', message: `helloworld ${text}` });
}

export function presenceEvent(event: 'join' | 'leave', user: string): string {
  return JSON.stringify({ event, user });
}

export function refreshEvent(exp: number | null, re?: RequestId): string {
  return JSON.stringify({ event: 'refresh', exp, re });
}

export function ackEvent(re: RequestId, seq?: number): string {
  return JSON.stringify({ event: 'ack', re, seq });
}

export interface ErrorDetails {
  message?: string;
  re?: RequestId;
  user?: string;
  retryAfterMs?: number;
}

export function errorEvent(code: ErrorCode, details: ErrorDetails = {}): string {
  return JSON.stringify({ event: 'error', code, message: details.message ?? ERRORS[code].message, re: details.re, user: details.user, retryAfterMs: details.retryAfterMs });
}

/**
 * The event name of JSON made by this module, for metrics: every event above starts with
 * `{"event":"NAME"`, so the name is read from there instead of parsing the JSON again.
 */
export function eventOf(json: string): string {
  const start = '{"event":"'.length;
  return json.slice(start, json.indexOf('"', start));
}
