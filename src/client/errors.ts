import type { ErrorCode } from '../errors.js';

/** A code from docs/errors.md; a string this version does not know when a newer server sends one. */
export type RoomsErrorCode = ErrorCode | (string & Record<never, never>);

/**
 * Why a request or the connection failed: the server's error code (`name_taken`, `no_such_user`,
 * ...) or one of the client's own (`request_timeout`, `client_offline`, `upgrade_refused`).
 */
export class RoomsError extends Error {
  readonly code: RoomsErrorCode;
  /** For `no_such_user`: the name that is not in the channel. */
  readonly user?: string;
  /** For `rate_limited`: how long to wait before sending again. */
  readonly retryAfterMs?: number;

  constructor(code: RoomsErrorCode, message: string, details: { user?: string; retryAfterMs?: number } = {}) {
    super(message);
    this.name = 'RoomsError';
    this.code = code;
    if (details.user !== undefined) this.user = details.user;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}
