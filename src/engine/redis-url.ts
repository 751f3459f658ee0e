/**
 * The Redis URLs rooms accepts, parsed without touching the network:
 *
 * - `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]` (`rediss://` for TLS): one Redis server, handed to
 *   ioredis as written;
 * - `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB][?sentinelPassword=P&sentinelUsername=U]`
 *   (`rediss+sentinel://` for TLS to the Sentinels and to Redis): the master that those Sentinels
 *   name MASTER, followed across failovers. The user and password are Redis's; the query carries
 *   the Sentinels' own, if they have one. A Sentinel without a port is on 26379.
 *
 * Errors say what is wrong and what to write instead, and never quote the URL: a password may be
 * in any part of one that went wrong (a `/` or `@` in it, say, not percent-encoded).
 */
export type RedisTarget = RedisServerTarget | RedisSentinelTarget;

export interface RedisServerTarget {
  kind: 'server';
  url: string;
}

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface RedisSentinelTarget {
  kind: 'sentinel';
  tls: boolean;
  sentinels: SentinelAddress[];
  /** The master's name, as in the Sentinels' `sentinel monitor NAME ...`. */
  name: string;
  db: number;
  username: string | null;
  password: string | null;
  sentinelUsername: string | null;
  sentinelPassword: string | null;
}

export const SENTINEL_PORT = 26_379;

const SENTINEL_SCHEME = /^(rediss?)\+sentinel:\/\//;
const SERVER_SCHEME = /^rediss?:\/\//;
/** A DNS name, with the underscores of docker-compose service names and an FQDN's final dot. */
const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const QUERY = ['sentinelPassword', 'sentinelUsername'] as const;
const EXAMPLE = 'redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster';

/** A URL rooms cannot use; the message is one sentence without the URL in it. */
export class RedisUrlError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

/** Whether a URL is of the Sentinel form (well formed or not). */
export function isSentinelUrl(url: string): boolean {
  return SENTINEL_SCHEME.test(url);
}

/**
 * Parses a Redis URL.
 * @throws RedisUrlError saying what is wrong with it
 */
export function parseRedisUrl(url: string): RedisTarget {
  if (isSentinelUrl(url)) return parseSentinelUrl(url);
  if (!SERVER_SCHEME.test(url)) throw new RedisUrlError(`does not start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://: write redis://HOST:PORT, or ${EXAMPLE} for Sentinel`);
  if (/[\s\p{Cc}]/u.test(url)) throw new RedisUrlError('has a space or control character: percent-encode it (%20 for a space)');
  if (!/^rediss?:\/\/([^@/]*@)?[^@/:]+/.test(url)) throw new RedisUrlError('names no host: write redis://HOST:PORT');
  return { kind: 'server', url };
}

/**
 * Parses a `redis+sentinel://` or `rediss+sentinel://` URL.
 * @throws RedisUrlError saying what is wrong with it
 */
export function parseSentinelUrl(url: string): RedisSentinelTarget {
  const scheme = SENTINEL_SCHEME.exec(url);
  if (scheme === null) throw new RedisUrlError(`is not a Sentinel URL: write ${EXAMPLE}`);
  const rest = url.slice(scheme[0].length);
  // As in any URL, the hosts end at the first / ? or #, and a password is what precedes their last @.
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  const at = authority.lastIndexOf('@');
  const credentials = at === -1 ? null : authority.slice(0, at);
  const hosts = authority.slice(at + 1);
  const query = tail.indexOf('?');
  const path = query === -1 ? tail : tail.slice(0, query);
  if (path.includes('@') || path.includes('#') || tail.includes('#')) {
    throw new RedisUrlError('has an @ or # after its hosts: percent-encode / ? # @ in a password (%2F %3F %23 %40)');
  }
  const { username, password } = userInfo(credentials);
  const { name, db } = masterPath(path);
  const params = queryParams(query === -1 ? '' : tail.slice(query + 1));
  return {
    kind: 'sentinel',
    tls: scheme[1] === 'rediss',
    sentinels: sentinelAddresses(hosts),
    name,
    db,
    username,
    password,
    sentinelUsername: params.sentinelUsername ?? null,
    sentinelPassword: params.sentinelPassword ?? null,
  };
}

/** A Sentinel URL as logs and the banner show it: the Sentinels, the master and the db, no credentials. */
export function shownSentinelUrl(target: RedisSentinelTarget): string {
  const hosts = target.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  return `${target.tls ? 'rediss' : 'redis'}+sentinel://${hosts}/${encodeURIComponent(target.name)}${target.db === 0 ? '' : `/${target.db}`}`;
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisUrlError(`has a bad %-escape in its ${what}: write each reserved character as % and two hex digits`);
  }
}

function userInfo(credentials: string | null): { username: string | null; password: string | null } {
  if (credentials === null) return { username: null, password: null };
  const colon = credentials.indexOf(':');
  const user = decode(colon === -1 ? credentials : credentials.slice(0, colon), 'user name');
  const pass = colon === -1 ? '' : decode(credentials.slice(colon + 1), 'password');
  return { username: user === '' ? null : user, password: pass === '' ? null : pass };
}

function sentinelAddresses(hosts: string): SentinelAddress[] {
  if (hosts === '') throw new RedisUrlError(`names no Sentinel: list them as HOST:PORT,HOST:PORT before /MASTER, as in ${EXAMPLE}`);
  const seen = new Set<string>();
  return hosts.split(',').map((entry, i) => {
    const where = `Sentinel address ${i + 1}`;
    const bracket = entry.startsWith('[') ? entry.indexOf(']') : -1;
    const colon = bracket === -1 ? entry.lastIndexOf(':') : entry.indexOf(':', bracket);
    const host = colon === -1 ? entry : entry.slice(0, colon);
    if (!HOST_NAME.test(host) && !IPV6.test(host)) {
      throw new RedisUrlError(`has no valid host in ${where}: write HOST:PORT, the host a name, an IPv4 address or [an IPv6 address], and the addresses separated by commas only`);
    }
    const digits = colon === -1 ? String(SENTINEL_PORT) : entry.slice(colon + 1);
    const port = /^\d{1,5}$/.test(digits) ? Number(digits) : 0;
    if (port < 1 || port > 65_535) throw new RedisUrlError(`has no valid port in ${where}: write HOST:PORT with a port from 1 to 65535 (or no port for ${SENTINEL_PORT})`);
    const address = { host: host.replace(/^\[|\]$/g, ''), port };
    const key = `${address.host}:${port}`;
    if (seen.has(key)) throw new RedisUrlError(`lists ${where} twice: name each Sentinel once`);
    seen.add(key);
    return address;
  });
}

function masterPath(path: string): { name: string; db: number } {
  // A / after the master name or the db is no part of either.
  const parts = path === '' ? [] : path.slice(1).replace(/\/$/, '').split('/');
  const name = decode(parts[0] ?? '', 'master name');
  if (name === '' || /[\s\p{Cc}]/u.test(name)) {
    throw new RedisUrlError(`does not name the master: end it with /MASTER, the name in the Sentinels' "sentinel monitor MASTER ...", as in ${EXAMPLE}`);
  }
  if (parts.length > 2) throw new RedisUrlError('has more than /MASTER/DB after its hosts: remove the rest');
  const digits = parts[1] ?? '0';
  if (!/^\d{1,5}$/.test(digits)) throw new RedisUrlError('has a database that is not a number: write /MASTER/DB with DB a whole number, or /MASTER for database 0');
  return { name, db: Number(digits) };
}

function queryParams(query: string): Partial<Record<(typeof QUERY)[number], string>> {
  const out: Partial<Record<(typeof QUERY)[number], string>> = {};
  if (query === '') return out;
  // Empty pairs, as a trailing & leaves, say nothing.
  for (const pair of query.split('&').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), 'query');
    const known = QUERY.find((k) => k === key);
    if (known === undefined) throw new RedisUrlError(`has a query parameter rooms does not know: the only ones are ${QUERY.join(' and ')}`);
    if (out[known] !== undefined) throw new RedisUrlError(`gives ${known} twice: give it once`);
    // Decoded as a URL part, not as a form: a + in a password stays a +.
    out[known] = decode(eq === -1 ? '' : pair.slice(eq + 1), known);
  }
  return out;
}
