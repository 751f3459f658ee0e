import { validName } from '../wire/names.js';
import type { Decoded, Request, RequestId } from './messages.js';

// Shared with the chat page, which checks both before it connects.
export { CHANNEL_ID, validName } from '../wire/names.js';

const MAX_ID = 64;
/** Deeper messages are refused: re-serializing them would exhaust the stack. */
const MAX_DEPTH = 64;

type Fields = Record<string, unknown>;

/**
 * Turns a text frame into a validated request, or says why not. Never throws: any input gives
 * either `{ok: true, request}` or `{ok: false, code}`.
 */
export function decode(text: string): Decoded {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad_json' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, code: 'bad_event' };
  const fields = data as Fields;
  const id = requestId(fields.id);
  if (id === false) return { ok: false, code: 'bad_id' };
  const event = fields.event;
  if (event === undefined || event === null || event === '') return withId({ ok: false, code: 'no_event' }, id);
  if (typeof event !== 'string') return withId({ ok: false, code: 'bad_event' }, id);
  return withId(decodeEvent(event, fields), id);
}

function decodeEvent(event: string, f: Fields): Decoded {
  switch (event) {
    case 'auth':
      return decodeAuth(f);
    case 'user_list': {
      const auth = token(f.auth);
      return auth === false ? badToken() : ok({ event, auth });
    }
    case 'talk_with':
    case 'broadcast':
    case 'helloworld':
      return decodeSend(event, f);
    case 'close':
      return ok({ event });
    case 'refresh': {
      const jwt = token(f.token);
      return typeof jwt === 'string' ? ok({ event, token: jwt }) : badToken();
    }
    case 'error':
      return ok({ event, message: f.message });
    default:
      return { ok: false, code: 'unknown_event' };
  }
}

function decodeAuth(f: Fields): Decoded {
  if (f.presence !== undefined && typeof f.presence !== 'boolean') return { ok: false, code: 'bad_presence' };
  const jwt = token(f.token);
  if (jwt === false) return badToken();
  const since = f.since === undefined || f.since === null ? undefined : validSince(f.since);
  if (since === null) return { ok: false, code: 'bad_since' };
  const epoch = f.epoch === undefined || f.epoch === null ? undefined : validEpoch(f.epoch);
  if (epoch === null) return { ok: false, code: 'bad_epoch' };
  const presence = f.presence === true;
  const resume = { ...(since === undefined ? {} : { since }), ...(epoch === undefined ? {} : { epoch }) };
  if (f.user === undefined || f.user === null || f.user === '') return ok({ event: 'auth', token: jwt, presence, ...resume });
  const user = validName(f.user);
  if (user === null) return { ok: false, code: 'invalid_name' };
  return ok({ event: 'auth', user, token: jwt, presence, ...resume });
}

/** A `since`: the seq of the last message received, a whole number from 0; null when it is not one. */
export function validSince(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** An `epoch` as the server hands them out: 1 to 64 characters of A-Z a-z 0-9 _ -; null when it is not one. */
export function validEpoch(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(value) ? value : null;
}

/** A request that sends a message: to some members (`talk_with`), or to all. */
function decodeSend(event: 'talk_with' | 'broadcast' | 'helloworld', f: Fields): Decoded {
  const auth = token(f.auth);
  if (auth === false) return badToken();
  const unsendable = messageProblem(f.message);
  if (unsendable !== null) return { ok: false, code: unsendable };
  if (event !== 'talk_with') return ok({ event, auth, message: f.message });
  // The classic chat client spells it with_cilents; the correct spelling is accepted too.
  const raw = f.with_cilents ?? f.with_clients;
  if (raw === undefined || raw === null) return ok({ event, auth, message: f.message });
  const to = validRecipients(raw);
  return to === null ? { ok: false, code: 'bad_recipients' } : ok({ event, auth, message: f.message, to });
}

/** Why a `message` to send is refused, from a client or the API: absent, or nested too deep; null when it is fine. */
export function messageProblem(message: unknown): 'bad_message' | 'message_too_deep' | null {
  if (message === undefined) return 'bad_message';
  return tooDeep(message) ? 'message_too_deep' : null;
}

/** A non-empty list of user names to send to, from a client or the API; null when it is not one. */
export function validRecipients(value: unknown): string[] | null {
  return Array.isArray(value) && value.length > 0 && value.every((n): n is string => typeof n === 'string') ? value : null;
}

/** Whether a parsed JSON value nests arrays or objects more than MAX_DEPTH levels; iterative. */
function tooDeep(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  let level: unknown[] = [value];
  for (let depth = 1; level.length > 0; depth += 1) {
    if (depth > MAX_DEPTH) return true;
    const next: unknown[] = [];
    for (const item of level) {
      for (const child of Object.values(item as object)) {
        if (typeof child === 'object' && child !== null) next.push(child);
      }
    }
    level = next;
  }
  return false;
}

function ok(request: Request): Decoded {
  return { ok: true, request };
}

function badToken(): Decoded {
  return { ok: false, code: 'bad_token' };
}

/** undefined when absent, false when present but not a string. */
function token(value: unknown): string | undefined | false {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : false;
}

/** undefined when absent, false when present but unusable. */
function requestId(value: unknown): RequestId | undefined | false {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length <= MAX_ID) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return false;
}

function withId(decoded: Decoded, id: RequestId | undefined): Decoded {
  if (id === undefined) return decoded;
  if (decoded.ok) decoded.request.id = id;
  else decoded.id = id;
  return decoded;
}
