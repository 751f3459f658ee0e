import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Which connection a token belongs to: the token is worthless on any other. */
export interface TokenSubject {
  path: string;
  channel: string;
  user: string;
  connection: string;
}

/**
 * Connection tokens: an HMAC-SHA256 over (path, channel, user, connection id) with the server's
 * secret, so that a token cannot be made up from a user name or moved to another connection.
 */
export class TokenSigner {
  private readonly key: Buffer;

  /** A null secret picks a random key, so tokens die with the process. */
  constructor(secret: string | null) {
    this.key = secret === null ? randomBytes(32) : Buffer.from(secret);
  }

  sign(subject: TokenSubject): string {
    return createHmac('sha256', this.key)
      .update(`${subject.path}\n${subject.channel}\n${subject.user}\n${subject.connection}`)
      .digest('base64url');
  }
}

/** The token an `Authorization: Bearer TOKEN` header carries, or null for none. */
export function bearer(authorization: string | undefined): string | null {
  const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match === null ? null : match[1];
}

/** Compares a presented token with the expected one in time that does not depend on where they differ. */
export function sameToken(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}
