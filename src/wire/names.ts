/**
 * What a channel id and a user name may be. The server checks them at the upgrade, in `auth` and
 * in the HTTP API; the chat page checks them before it connects, since a browser never sees why an
 * upgrade was refused. Browser-safe.
 */

/** A channel id: 1 to 64 characters of A-Z a-z 0-9 . _ ~ -. */
export const CHANNEL_ID = /^[A-Za-z0-9._~-]{1,64}$/;

const MAX_NAME = 32;
/** Control characters, lone surrogates and bidi overrides: a name must print as what it is. */
const CONTROL = /[\p{Cc}\p{Cs}\u202A-\u202E\u2066-\u2069]/u;

/** A user name trimmed, or null when it is not 1 to 32 code points free of control characters. */
export function validName(value: unknown): string | null {
  const user = typeof value === 'string' ? value.trim() : '';
  if (user === '' || [...user].length > MAX_NAME || CONTROL.test(user)) return null;
  return user;
}
