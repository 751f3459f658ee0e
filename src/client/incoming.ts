import type { ServerEventName } from '../wire/messages.js';
import type { ChatMessage, RequestId } from './types.js';

/** A server frame the client acts on, validated; it ignores `refresh` and `helloworld`. */
export type Incoming =
  | Frame<'token', { token: string; re?: RequestId; epoch?: string; seq?: number; recovered?: boolean }>
  | Frame<'message', { message: ChatMessage }>
  | Frame<'join' | 'leave', { user: string }>
  | Frame<'ack', { re: RequestId; seq?: number; duplicate: boolean; local: boolean }>
  | Frame<'user_list', { users: string[]; re?: RequestId }>
  | Frame<'error', { code: string; message: string; re?: RequestId; user?: string; retryAfterMs?: number }>;

/** A frame of one of the events the server sends, with what the client reads of it. */
type Frame<E extends ServerEventName, F> = { event: E } & F;

type Fields = Record<string, unknown>;

/**
 * Reads one frame from the server. Never throws: binary frames, bad JSON and events this client
 * does not know (a newer server's) give null and are ignored.
 */
export function parseIncoming(data: unknown): Incoming | null {
  if (typeof data !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const f = parsed as Fields;
  const re = requestId(f.re);
  switch (f.event) {
    case 'token':
      if (typeof f.message !== 'string') return null;
      return { event: 'token', token: f.message, re, epoch: str(f.epoch), seq: num(f.seq), recovered: typeof f.recovered === 'boolean' ? f.recovered : undefined };
    case 'message': {
      if (typeof f.from !== 'string' || typeof f.channel !== 'string' || typeof f.ts !== 'number' || !('message' in f)) return null;
      const message: ChatMessage = { message: f.message, from: f.from, channel: f.channel, ts: f.ts };
      const seq = num(f.seq);
      const epoch = str(f.epoch);
      if (seq !== undefined) message.seq = seq;
      if (epoch !== undefined) message.epoch = epoch;
      if (Array.isArray(f.to) && f.to.every((name): name is string => typeof name === 'string')) message.to = f.to;
      return { event: 'message', message };
    }
    case 'join':
    case 'leave':
      return typeof f.user === 'string' ? { event: f.event, user: f.user } : null;
    case 'ack':
      if (re === undefined) return null;
      return { event: 'ack', re, seq: num(f.seq), duplicate: f.duplicate === true, local: f.local === true };
    case 'user_list':
      if (!Array.isArray(f.message) || !f.message.every((u): u is string => typeof u === 'string')) return null;
      return { event: 'user_list', users: f.message, re };
    case 'error':
      return {
        event: 'error',
        code: typeof f.code === 'string' ? f.code : 'unknown',
        message: typeof f.message === 'string' ? f.message : 'error',
        re,
        user: str(f.user),
        retryAfterMs: num(f.retryAfterMs),
      };
    default:
      return null;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function requestId(value: unknown): RequestId | undefined {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? value : undefined;
}
