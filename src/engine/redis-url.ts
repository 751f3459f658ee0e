/**
 * The Redis URLs rooms accepts, parsed without touching the network:
 *
 * - `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]` (`rediss://` for TLS): one Redis server, handed to
 *   ioredis as written;
 * - `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB][?sentinelPassword=P&sentinelUsername=U]`
 *   (`rediss+sentinel://` for TLS to the Sentinels and to Redis): the master that those Sentinels
 *   name MASTER, followed across failovers. The user and password are Redis's; the query carries
 *   the Sentinels' own, if they have one. A Sentinel without a port is on 26379;
 * - `redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]` (`rediss+cluster://` for TLS):
 *   a Redis Cluster, found from those seed nodes (any of its nodes will do; without a port, 6379).
 *
 * Errors say what is wrong and what to write instead, and never quote the URL: a password may be
 * in any part of one that went wrong (a `/` or `@` in it, say, not percent-encoded).
 */
export type RedisTarget = RedisServerTarget | RedisSentinelTarget | RedisClusterTarget;

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

export interface RedisClusterTarget {
  kind: 'cluster';
  tls: boolean;
  /** The seed nodes: ioredis asks the first that answers for the others and their slots. */
  nodes: SentinelAddress[];
  username: string | null;
  password: string | null;
}

export const SENTINEL_PORT = 26_379;
export const REDIS_PORT = 6_379;

const SENTINEL_SCHEME = /^(rediss?)\+sentinel:\/\//;
const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//;
const SERVER_SCHEME = /^rediss?:\/\//;
/** A DNS name, with the underscores of docker-compose service names and an FQDN's final dot. */
const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const QUERY = ['sentinelPassword', 'sentinelUsername'] as const;
const EXAMPLE = 'redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster';
const CLUSTER_EXAMPLE = 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001';

/** A URL rooms cannot use; the message is one sentence without the URL in it. */
export class RedisUrlError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

/** Whether a URL lists several hosts (Sentinel or cluster), well formed or not: `new URL` cannot read it. */
export function isHostListUrl(url: string): boolean {
  return SENTINEL_SCHEME.test(url) || CLUSTER_SCHEME.test(url);
}

/**
 * Parses a Redis URL.
 * @throws RedisUrlError saying what is wrong with it
 */
export function parseRedisUrl(url: string): RedisTarget {
  if (SENTINEL_SCHEME.test(url)) return parseSentinelUrl(url);
  if (CLUSTER_SCHEME.test(url)) return parseClusterUrl(url);
  if (!SERVER_SCHEME.test(url)) throw new RedisUrlError(`does not start with redis://, rediss://, redis+sentinel:// or redis+cluster:// (rediss for TLS): write redis://HOST:PORT, ${EXAMPLE} for Sentinel, or ${CLUSTER_EXAMPLE} for a cluster`);
  if (/[\s\p{Cc}]/u.test(url)) throw new RedisUrlError('has a space or control character: percent-encode it (%20 for a space)');
  if (!/^rediss?:\/\/([^@/]*@)?[^@/:]+/.test(url)) throw new RedisUrlError('names no host: write redis://HOST:PORT');
  return { kind: 'server', url };
}

/**
 * Parses a `redis+sentinel://` or `rediss+sentinel://` URL.
 * @throws RedisUrlError saying what is wrong with it
 */
function parseSentinelUrl(url: string): RedisSentinelTarget {
  const scheme = SENTINEL_SCHEME.exec(url);
  if (scheme === null) throw new RedisUrlError(`is not a Sentinel URL: write ${EXAMPLE}`);
  const { hosts, path, query, username, password } = split(url.slice(scheme[0].length));
  const { name, db } = masterPath(path);
  const params = queryParams(query);
  if (hosts === '') throw new RedisUrlError(`names no Sentinel: list them as HOST:PORT,HOST:PORT before /MASTER, as in ${EXAMPLE}`);
  return {
    kind: 'sentinel',
    tls: scheme[1] === 'rediss',
    sentinels: addresses(hosts, 'Sentinel', SENTINEL_PORT),
    name,
    db,
    username,
    password,
    sentinelUsername: params.sentinelUsername ?? null,
    sentinelPassword: params.sentinelPassword ?? null,
  };
}

/**
 * Parses a `redis+cluster://` or `rediss+cluster://` URL.
 * @throws RedisUrlError saying what is wrong with it
 */
function parseClusterUrl(url: string): RedisClusterTarget {
  const scheme = CLUSTER_SCHEME.exec(url);
  if (scheme === null) throw new RedisUrlError(`is not a cluster URL: write ${CLUSTER_EXAMPLE}`);
  const { hosts, path, query, username, password } = split(url.slice(scheme[0].length));
  if (hosts === '') throw new RedisUrlError(`names no cluster node: list some as HOST:PORT,HOST:PORT, as in ${CLUSTER_EXAMPLE}`);
  // A cluster has database 0 only.
  if (path.replace(/^\/$/, '') !== '' || query !== '') throw new RedisUrlError(`has a path or query after its nodes: a cluster takes neither (it has database 0 only), write ${CLUSTER_EXAMPLE}`);
  return { kind: 'cluster', tls: scheme[1] === 'rediss', nodes: addresses(hosts, 'cluster node', REDIS_PORT), username, password };
}


/** The parts of what follows a `+sentinel://` or `+cluster://` scheme. */
function split(rest: string): { hosts: string; path: string; query: string; username: string | null; password: string | null } {
  // As in any URL, the hosts end at the first / ? or #, and a password is what precedes their last @.
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  const at = authority.lastIndexOf('@');
  const q = tail.indexOf('?');
  const path = q === -1 ? tail : tail.slice(0, q);
  if (path.includes('@') || path.includes('#') || tail.includes('#')) {
    throw new RedisUrlError('has an @ or # after its hosts: percent-encode / ? # @ in a password (%2F %3F %23 %40)');
  }
  return { hosts: authority.slice(at + 1), path, query: q === -1 ? '' : tail.slice(q + 1), ...userInfo(at === -1 ? null : authority.slice(0, at)) };
}

/**
 * A Sentinel or cluster URL as logs and the banner show it: the hosts, and the master and the db
 * of a Sentinel URL, no credentials.
 * @throws RedisUrlError when it is not well formed
 */
export function shownHostListUrl(url: string): string {
  const target = parseRedisUrl(url);
  if (target.kind === 'server') throw new RedisUrlError('is not a Sentinel or cluster URL');
  const scheme = target.tls ? 'rediss' : 'redis';
  const hosts = (list: SentinelAddress[]): string => list.map((s) => `${s.host}:${s.port}`).join(',');
  if (target.kind === 'cluster') return `${scheme}+cluster://${hosts(target.nodes)}`;
  return `${scheme}+sentinel://${hosts(target.sentinels)}/${encodeURIComponent(target.name)}${target.db === 0 ? '' : `/${target.db}`}`;
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

function addresses(hosts: string, what: string, defaultPort: number): SentinelAddress[] {
  const seen = new Set<string>();
  return hosts.split(',').map((entry, i) => {
    const where = `${what} address ${i + 1}`;
    const bracket = entry.startsWith('[') ? entry.indexOf(']') : -1;
    const colon = bracket === -1 ? entry.lastIndexOf(':') : entry.indexOf(':', bracket);
    const host = colon === -1 ? entry : entry.slice(0, colon);
    if (!HOST_NAME.test(host) && !IPV6.test(host)) {
      throw new RedisUrlError(`has no valid host in ${where}: write HOST:PORT, the host a name, an IPv4 address or [an IPv6 address], and the addresses separated by commas only`);
    }
    const digits = colon === -1 ? String(defaultPort) : entry.slice(colon + 1);
    const port = /^\d{1,5}$/.test(digits) ? Number(digits) : 0;
    if (port < 1 || port > 65_535) throw new RedisUrlError(`has no valid port in ${where}: write HOST:PORT with a port from 1 to 65535 (or no port for ${defaultPort})`);
    const address = { host: host.replace(/^\[|\]$/g, ''), port };
    const key = `${address.host}:${port}`;
    if (seen.has(key)) throw new RedisUrlError(`lists ${where} twice: name each ${what} once`);
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
