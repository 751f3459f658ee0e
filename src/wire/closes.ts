/**
 * Every WebSocket close code a rooms connection can end with, in one table that the server closes
 * through and the client library reads: each row says whether a client should connect again (with
 * backoff, resuming where it left off) or must change something first. Browser-safe: the client
 * library imports it.
 */
export interface Close {
  code: number;
  /** The close reason the server sends when the call site has nothing more specific. */
  reason: string;
  /** Whether a client should reconnect with backoff after it. */
  reconnect: boolean;
}

export const CLOSES = {
  /** The client asked (`{"event":"close"}`), or the client library closed. */
  normal: { code: 1000, reason: 'bye', reconnect: false },
  shutting_down: { code: 1001, reason: 'server shutting down', reconnect: true },
  // ws closes with these itself when a client breaks the protocol: a reconnect would break it again.
  protocol_error: { code: 1002, reason: 'protocol error', reconnect: false },
  unsupported_data: { code: 1003, reason: 'unsupported data', reconnect: false },
  /** Never sent: what a client sees when the connection went without a close frame. */
  dropped: { code: 1006, reason: 'connection dropped', reconnect: true },
  invalid_data: { code: 1007, reason: 'invalid frame payload data', reconnect: false },
  policy_violation: { code: 1008, reason: 'policy violation', reconnect: false },
  too_big: { code: 1009, reason: 'message too big', reconnect: false },
  missing_extension: { code: 1010, reason: 'missing extension', reconnect: false },
  internal_error: { code: 1011, reason: 'internal error', reconnect: true },
  too_slow: { code: 4000, reason: 'too slow', reconnect: true },
  missed_messages: { code: 4001, reason: 'missed messages: resume', reconnect: true },
  invalid_name: { code: 4400, reason: 'invalid user name', reconnect: false },
  bad_token: { code: 4401, reason: 'bad token', reconnect: false },
  removed: { code: 4403, reason: 'removed by the server', reconnect: false },
  auth_timeout: { code: 4408, reason: 'auth timeout', reconnect: false },
  name_taken: { code: 4409, reason: 'user name already exist', reconnect: false },
  rate_limited: { code: 4429, reason: 'rate limited', reconnect: false },
} as const satisfies Record<string, Close>;

export type CloseName = keyof typeof CLOSES;

const BY_CODE = new Map<number, Close>(Object.values(CLOSES).map((row) => [row.code, row]));

/**
 * Whether a client should reconnect after a close with `code`: the table's answer for a code it
 * has, and for any other code its range's (4400-4499 mirror HTTP 4xx, so the client must change
 * something; anything else may pass).
 */
export function reconnects(code: number): boolean {
  return BY_CODE.get(code)?.reconnect ?? !(code >= 4400 && code <= 4499);
}
