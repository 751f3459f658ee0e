import { say, type ErrorCode } from '../errors.js';
import { messageProblem, validRecipients } from '../protocol/decode.js';
import type { EventName } from '../protocol/messages.js';
import type { ServerEventName } from '../wire/messages.js';

/**
 * Event names a client already gives a meaning to, whichever side sends them: an API message may
 * not take one. `message` is allowed, as the default. The compiler checks that every event is here.
 */
const RESERVED: Record<Exclude<EventName | ServerEventName, 'message'>, true> = {
  auth: true,
  token: true,
  refresh: true,
  user_list: true,
  talk_with: true,
  broadcast: true,
  helloworld: true,
  close: true,
  error: true,
  join: true,
  leave: true,
  ack: true,
};
const PROTOCOL_EVENTS: ReadonlySet<string> = new Set(Object.keys(RESERVED));
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

/** A refusal's `message` is absent where the errors table's says it all. */
export type ParsedPublish = { ok: true; request: PublishRequest } | { ok: false; code: ErrorCode; message?: string };

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
  const unsendable = messageProblem(fields.message);
  if (unsendable !== null) return refusal(unsendable);
  const request: PublishRequest = { message: fields.message };
  if (fields.to !== undefined) {
    const to = validRecipients(fields.to);
    if (to === null) return refusal('bad_recipients', 'to must be a non-empty array of user names');
    if (to.length > maxRecipients) return refusal('too_many_recipients', `${say('too_many_recipients', { count: to.length, limit: maxRecipients })} (maxRecipients)`);
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

function refusal(code: ErrorCode, message?: string): ParsedPublish {
  return { ok: false, code, message };
}
