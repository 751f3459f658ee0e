import type { ErrorCode } from '../errors.js';
import { tooDeep } from '../protocol/decode.js';

/**
 * Event names a client already gives a meaning to: an API message may not take one. `message`
 * is allowed, as the default.
 */
const PROTOCOL_EVENTS = new Set(['auth', 'token', 'refresh', 'user_list', 'talk_with', 'broadcast', 'helloworld', 'close', 'error', 'join', 'leave', 'ack']);
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,31}$/;
const FIELDS = ['message', 'to', 'event'];

/** A validated `POST /api/channels/{path}/{id}/messages` body. */
export interface PublishRequest {
  message: unknown;
  /** Only these members get the message; every member when absent. */
  to?: string[];
  /** The event name members receive instead of `message`. */
  event?: string;
}

export type ParsedPublish = { ok: true; request: PublishRequest } | { ok: false; code: ErrorCode; message: string };

/** Validates a publish body; never throws. */
export function parsePublish(text: string, maxRecipients: number): ParsedPublish {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return refusal('bad_request', `the body is not JSON (${(err as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return refusal('bad_request', 'the body must be a JSON object: {"message": ..., "to"?: [users], "event"?: name}');
  }
  const fields = data as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) return refusal('bad_request', `unknown field ${JSON.stringify(unknown.slice(0, 40))}; the fields are message, to and event`);
  if (fields.message === undefined) return refusal('bad_message', 'message is required');
  if (tooDeep(fields.message)) return refusal('message_too_deep', 'message nests arrays or objects more than 64 levels deep');
  const request: PublishRequest = { message: fields.message };
  const to = fields.to;
  if (to !== undefined) {
    if (!Array.isArray(to) || to.length === 0 || !to.every((n): n is string => typeof n === 'string')) {
      return refusal('bad_recipients', 'to must be a non-empty array of user names');
    }
    if (to.length > maxRecipients) return refusal('too_many_recipients', `too many recipients: ${to.length}, the limit is ${maxRecipients} (maxRecipients)`);
    request.to = to;
  }
  const event = fields.event;
  if (event !== undefined) {
    if (typeof event !== 'string' || !EVENT_NAME.test(event) || PROTOCOL_EVENTS.has(event)) {
      const shown = typeof event === 'string' ? JSON.stringify(event.slice(0, 40)) : typeof event;
      return refusal('bad_event_name', `event ${shown} must be 1 to 32 characters of A-Z a-z 0-9 _ . : -, starting with a letter, and not one of ${[...PROTOCOL_EVENTS].join(', ')}`);
    }
    request.event = event;
  }
  return { ok: true, request };
}

function refusal(code: ErrorCode, message: string): ParsedPublish {
  return { ok: false, code, message };
}
