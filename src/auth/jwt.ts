import { SignJWT, errors, jwtVerify } from 'jose';

/** Who a verified token says the client is, and where it may go. */
export interface Identity {
  user: string;
  /** Channel ids or `path:id` patterns (`*` matches any run of characters); null allows every channel. */
  channels: string[] | null;
  /** Expiry in seconds since the epoch, or null for a token without `exp`. */
  exp: number | null;
}

export type Verified = { ok: true; identity: Identity } | { ok: false; reason: string };

/**
 * Tokens minted by the application that runs rooms: JWT HS256 with `sub` (the user), optional
 * `channels` and `exp`, signed with a secret shared with that application.
 */
export class JwtVerifier {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  /** Verifies a token and that it lets its holder into the channel at `path` with `id`. Never throws. */
  async verify(token: string, path: string, id: string): Promise<Verified> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' };
      return { ok: false, reason: 'bad token: not a JWT signed with this server\'s secret (HS256)' };
    }
    const { sub, channels, exp } = payload;
    if (typeof sub !== 'string' || sub.trim() === '') return { ok: false, reason: 'bad token: no sub naming the user' };
    if (channels !== undefined && !(Array.isArray(channels) && channels.every((c): c is string => typeof c === 'string'))) {
      return { ok: false, reason: 'bad token: channels must be a list of strings' };
    }
    const identity: Identity = { user: sub.trim(), channels: channels ?? null, exp: typeof exp === 'number' ? exp : null };
    if (!mayJoin(identity, path, id)) return { ok: false, reason: `token does not allow channel ${id} under ${path}` };
    return { ok: true, identity };
  }
}

/** Whether an identity may join the channel at `path` with `id`. */
export function mayJoin(identity: Identity, path: string, id: string): boolean {
  if (identity.channels === null) return true;
  return identity.channels.some((entry) => {
    const colon = entry.lastIndexOf(':');
    const [pathPattern, idPattern] = colon === -1 ? [null, entry] : [entry.slice(0, colon), entry.slice(colon + 1)];
    return (pathPattern === null || glob(pathPattern).test(path)) && glob(idPattern).test(id);
  });
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${wildcard(pattern, '.*')}$`);
}

/** The regular expression source of a pattern in which each `*` stands for `star` and everything else for itself. */
export function wildcard(pattern: string, star: string): string {
  return pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(star);
}

export interface MintOptions {
  user: string;
  channels?: string[];
  /** Seconds until the token expires. */
  ttl: number;
}

/** Signs a token as a backend would; what `rooms token` prints. */
export function mintToken(secret: string, options: MintOptions): Promise<string> {
  const claims = options.channels !== undefined && options.channels.length > 0 ? { channels: options.channels } : {};
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.user)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttl)
    .sign(new TextEncoder().encode(secret));
}
