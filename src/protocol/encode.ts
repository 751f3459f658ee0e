import { ERRORS, type ErrorCode } from '../errors.js';
import type { ServerEventName } from '../wire/messages.js';
import type { RequestId } from './messages.js';

/**
 * The JSON text of every event the server sends. Each is serialized once, however many members
 * receive it; `undefined` fields are left out by JSON.stringify.
 */
/** Where the channel stands at auth, and with `since`, whether everything after it follows. */
export interface Standing {
  /** Unknown (left out) only while the store is unreachable on a channel this node has not seen a message in. */
  epoch: string | undefined;
  seq: number;
  recovered?: boolean;
}

export function tokenEvent(token: string, re: RequestId | undefined, standing: Standing): string {
  return serverEvent({ event: 'token', message: token, re, epoch: standing.epoch, seq: standing.seq, recovered: standing.recovered });
}

export function userListEvent(users: string[], re?: RequestId): string {
  return serverEvent({ event: 'user_list', message: users, re });
}

/**
 * A message event is written in two halves around the `"seq":N,"epoch":"E"` that the engine fills
 * in once it has ordered the message: `head` is the event up to there, without its closing brace.
 * A direct message carries `to`, the names it went to, so its receivers can tell it was private.
 */
export function messageHead(message: unknown, from: string, channel: string, to?: string[], event = 'message'): string {
  return JSON.stringify({ event, message, from, channel, to }).slice(0, -1);
}

export function messageTail(ts: number): string {
  return `,"ts":${ts}}`;
}

export function helloworldEvent(message: unknown): string {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  return serverEvent({ event: 'helloworld', message: `helloworld ${text}` });
}

export function presenceEvent(event: 'join' | 'leave', user: string): string {
  return serverEvent({ event, user });
}

export function refreshEvent(exp: number | null, re?: RequestId): string {
  return serverEvent({ event: 'refresh', exp, re });
}

/** How a request was carried out: its seq, or that it was a duplicate, or delivered on this node only. */
export interface Outcome {
  seq?: number;
  duplicate?: boolean;
  local?: boolean;
}

export function ackEvent(re: RequestId, outcome: Outcome = {}): string {
  return serverEvent({ event: 'ack', re, seq: outcome.seq, duplicate: outcome.duplicate, local: outcome.local });
}

export interface ErrorDetails {
  message?: string;
  re?: RequestId;
  user?: string;
  retryAfterMs?: number;
}

export function errorEvent(code: ErrorCode, details: ErrorDetails = {}): string {
  return serverEvent({ event: 'error', code, message: details.message ?? ERRORS[code].message, re: details.re, user: details.user, retryAfterMs: details.retryAfterMs });
}

/** The JSON of an event the server sends, its name checked against the names both sides know. */
function serverEvent(frame: { event: ServerEventName } & Record<string, unknown>): string {
  return JSON.stringify(frame);
}

/**
 * The event name of JSON made by this module, for metrics: every event above starts with
 * `{"event":"NAME"`, so the name is read from there instead of parsing the JSON again.
 */
export function eventOf(json: string): string {
  const start = '{"event":"'.length;
  return json.slice(start, json.indexOf('"', start));
}
