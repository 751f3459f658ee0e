import type { ErrorCode } from '../errors.js';

import type { RequestId } from '../wire/messages.js';

export type { RequestId };

/** A request the server understands, validated: the handler can trust every field. */
export type Request =
  | { event: 'auth'; id?: RequestId; user?: string; token?: string; presence: boolean; since?: number; epoch?: string }
  | { event: 'refresh'; id?: RequestId; token: string }
  | { event: 'user_list'; id?: RequestId; auth?: string }
  | { event: 'talk_with'; id?: RequestId; auth?: string; message: unknown; to?: string[] }
  | { event: 'broadcast'; id?: RequestId; auth?: string; message: unknown }
  | { event: 'helloworld'; id?: RequestId; auth?: string; message: unknown }
  | { event: 'close'; id?: RequestId }
  | { event: 'error'; id?: RequestId; message: unknown };

export type EventName = Request['event'];

/** Why a frame was refused: the error code, a specific message when the table's is too general, and the request id. */
export interface Refusal {
  code: ErrorCode;
  message?: string;
  id?: RequestId;
}

export type Decoded = { ok: true; request: Request } | ({ ok: false } & Refusal);
