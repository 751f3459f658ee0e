// Longer than most files here: it is the one table of every setting (default, parser, env name,
// flag, doc line) and the parsers those rows use; splitting it would split the table.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { validate as validCron } from 'node-cron';
import { ConfigError } from './errors.js';
import { parseRedisUrl, RedisUrlError } from './engine/redis-url.js';

export const AUTH_MODES = ['open', 'token'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const WEBHOOK_EVENTS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** A key the HTTP API accepts as `Authorization: Bearer KEY`; `name` is the `from` of what it publishes. */
export interface ApiKey {
  name: string;
  key: string;
}

/** An endpoint that receives the webhook events it lists. */
export interface Webhook {
  url: string;
  events: WebhookEvent[];
}

type Parse<T> = (value: unknown, where: string) => T;

/** One setting as the config file, the environment, the CLI and `--help` know it. */
interface Row<T> {
  /** The value when no layer sets it; config/default.json holds the same. */
  default: NoInfer<T>;
  env: string;
  /** Long flag without its dashes; absent for settings that must not appear in `ps` output. */
  flag?: string;
  /** Placeholder shown in `--help`. */
  arg: string;
  describe: string;
  /** Validates a value from any layer; its return type is the setting's type in `Config`. */
  parse: Parse<T>;
}

function fail(where: string, accepts: string, value: unknown): never {
  throw new ConfigError(where, `${where} must be ${accepts} (got ${show(value)})`);
}

/** A value as the user wrote it, for an error message; never throws (bigints, cycles). */
function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : String(value);
  }
}

/** A number as written in a file, or the number a string of digits (from the environment or a flag) spells. */
function numeric(value: unknown): unknown {
  return typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
}

function integer(min: number, max: number): Parse<number> {
  const accepts = `an integer from ${min} to ${max}`;
  return (value, where) => {
    const n = numeric(value);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) fail(where, accepts, value);
    return n;
  };
}

const MAX_WORKERS = 1_024;

/** A count of worker processes, or `auto`: one per CPU this process may use. */
const workerCount: Parse<number> = (value, where) => {
  if (value === 'auto') return availableParallelism();
  const n = numeric(value);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_WORKERS) fail(where, `an integer from 1 to ${MAX_WORKERS}, or auto for one per CPU`, value);
  return n;
};

const host: Parse<string> = (value, where) => {
  if (typeof value !== 'string' || value.trim() === '' || /\s/.test(value)) {
    fail(where, 'a host name or IP address', value);
  }
  return value;
};

function channelPath(value: unknown, where: string): string {
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(value)) {
    fail(where, 'a URL path starting with / made of A-Z a-z 0-9 . _ ~ - /', value);
  }
  return value;
}

const paths: Parse<string[]> = (value, where) => {
  const list = typeof value === 'string' ? value.split(',').map((p) => p.trim()) : value;
  if (!Array.isArray(list) || list.length === 0) fail(where, 'a non-empty list of URL paths', value);
  const parsed = list.map((p: unknown) => channelPath(p, where));
  if (new Set(parsed).size !== parsed.length) fail(where, 'a list of distinct URL paths', value);
  return parsed;
};

function oneOf<T extends string>(values: readonly T[]): Parse<T> {
  const accepts = `one of ${values.join(', ')}`;
  return (value, where) => {
    const found = values.find((v) => v === value);
    if (found === undefined) fail(where, accepts, value);
    return found;
  };
}

function secretString(minLength: number): Parse<string | null> {
  const accepts = `a string of at least ${minLength} characters, or null`;
  return (value, where) => {
    if (value === null) return null;
    // A secret's value is never shown, not even a short or mistyped one: only its length or kind.
    if (typeof value !== 'string') {
      const kind = Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
      throw new ConfigError(where, `${where} must be ${accepts} (got ${kind}; the value is not shown)`);
    }
    if (value.length < minLength) {
      const length = `${value.length} character${value.length === 1 ? '' : 's'}`;
      throw new ConfigError(where, `${where} must be ${accepts} (got ${length}; the value is not shown)`);
    }
    return value;
  };
}

const schedule: Parse<string> = (value, where) => {
  if (typeof value !== 'string' || !validCron(value)) fail(where, 'a cron expression such as "*/5 * * * *"', value);
  return value;
};

const origins: Parse<string[]> = (value, where) => {
  const list = typeof value === 'string' ? value.split(',').map((o) => o.trim()).filter((o) => o !== '') : value;
  if (!Array.isArray(list)) fail(where, 'a list of origins such as ["https://*.example.com"]', value);
  return list.map((origin: unknown) => {
    if (typeof origin !== 'string' || !/^https?:\/\/[A-Za-z0-9.*-]+(:\d+)?$/.test(origin)) {
      fail(where, 'a list of origins like "https://app.example.com" or "https://*.example.com"', value);
    }
    return origin;
  });
};

const REDIS_URL = 'a URL like redis://127.0.0.1:6379, redis+sentinel://127.0.0.1:26379/mymaster or redis+cluster://127.0.0.1:7000, or null';

/** A URL's message says what is wrong and never quotes it: a password may be in any part of it, the query too. */
const redisUrl: Parse<string | null> = (value, where) => {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') fail(where, REDIS_URL, value);
  try {
    parseRedisUrl(value);
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    throw new ConfigError(where, `${where} ${err.message}`);
  }
  return value;
};

const prefix: Parse<string> = (value, where) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(value)) fail(where, '1 to 32 characters of A-Z a-z 0-9 . _ -', value);
  return value;
};

const bool: Parse<boolean> = (value, where) => {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return fail(where, 'true or false', value);
};

/**
 * A JSON list from the environment, or the list itself from a file or the API. `secret` lists
 * (API keys) are never echoed in the message: a bad entry may hold a real key.
 */
function jsonList(value: unknown, where: string, accepts: string, secret = false): unknown[] {
  let list = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      list = null;
    }
  }
  if (Array.isArray(list)) return list;
  if (secret) throw new ConfigError(where, `${where} must be ${accepts}, as JSON in the environment`);
  return fail(where, `${accepts}, as JSON in the environment`, value);
}

const API_KEY_NAME = /^[A-Za-z0-9._-]{1,32}$/;

/** Names are the `from` of API messages, so they follow user-name rules; keys are never echoed. */
const apiKeys: Parse<ApiKey[]> = (value, where) => {
  const keys = jsonList(value, where, 'a list of {"name","key"} objects', true).map((entry: unknown, i): ApiKey => {
    const e = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : null;
    if (e === null || Object.keys(e).some((k) => k !== 'name' && k !== 'key')) {
      throw new ConfigError(where, `${where}[${i}] must be an object with "name" and "key" only`);
    }
    if (typeof e.name !== 'string' || !API_KEY_NAME.test(e.name)) {
      throw new ConfigError(where, `${where}[${i}].name must be 1 to 32 characters of A-Z a-z 0-9 . _ -`);
    }
    if (typeof e.key !== 'string' || e.key.length < 16 || /\s/.test(e.key)) {
      throw new ConfigError(where, `${where}[${i}].key (of "${e.name}") must be a string of at least 16 characters without spaces`);
    }
    return { name: e.name, key: e.key };
  });
  const names = keys.map((k) => k.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new ConfigError(where, `${where}: the name "${twice}" is given twice; names must be unique`);
  if (new Set(keys.map((k) => k.key)).size !== keys.length) throw new ConfigError(where, `${where}: two entries have the same key; keys must be unique`);
  return keys;
};

const webhooks: Parse<Webhook[]> = (value, where) => {
  const accepts = `a list of {"url","events"} objects, events from ${WEBHOOK_EVENTS.join(', ')}`;
  return jsonList(value, where, accepts).map((entry: unknown, i): Webhook => {
    const e = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : null;
    if (e === null || Object.keys(e).some((k) => k !== 'url' && k !== 'events')) {
      fail(`${where}[${i}]`, 'an object with "url" and "events" only', entry);
    }
    if (typeof e.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(e.url) || !URL.canParse(e.url)) {
      fail(`${where}[${i}].url`, 'an http:// or https:// URL', e.url);
    }
    const events = e.events;
    if (!Array.isArray(events) || events.length === 0 || new Set(events).size !== events.length) {
      fail(`${where}[${i}].events`, `a non-empty list of distinct events from ${WEBHOOK_EVENTS.join(', ')}`, events);
    }
    for (const event of events) {
      if (!WEBHOOK_EVENTS.includes(event as WebhookEvent)) fail(`${where}[${i}].events`, `a list of events from ${WEBHOOK_EVENTS.join(', ')}`, event);
    }
    return { url: e.url, events: events as WebhookEvent[] };
  });
};

/** A row whose default is checked against what its parser returns. */
function row<T>(setting: Row<T>): Row<T> {
  return setting;
}

/**
 * The settings table, in the order `--help` and the "known settings" of an error list them. A
 * row's doc comment is the doc of its `Config` field.
 */
const ROWS = {
  /** TCP port to listen on; 0 picks a free one. */
  port: row({ default: 3000, env: 'ROOMS_PORT', flag: 'port', arg: '<port>', describe: 'TCP port to listen on (0 picks a free one)', parse: integer(0, 65_535) }),
  /** Address to listen on. */
  host: row({ default: '127.0.0.1', env: 'ROOMS_HOST', flag: 'host', arg: '<host>', describe: 'address to listen on', parse: host }),
  /** URL paths under which channels live, each as `PATH?id=<channel>`. */
  paths: row({ default: ['/channel'], env: 'ROOMS_PATHS', flag: 'path', arg: '<path>', describe: 'URL path under which channels live; repeat for several', parse: paths }),
  /** Worker processes sharing the one port (node:cluster), each a node on `redis`; `auto` is one per CPU. */
  workers: row({ default: 1, env: 'ROOMS_WORKERS', flag: 'workers', arg: '<n>', describe: 'worker processes sharing the port, auto for one per CPU; more than 1 needs redis', parse: workerCount }),
  /** pino log level. */
  logLevel: row({ default: 'info', env: 'ROOMS_LOG_LEVEL', flag: 'log-level', arg: '<level>', describe: `log level: ${LOG_LEVELS.join(', ')}`, parse: oneOf(LOG_LEVELS) }),
  /** Secret for connection tokens; null picks a random one per process. */
  secret: row({ default: null, env: 'ROOMS_SECRET', arg: '<secret>', describe: 'secret for connection tokens (random per process when unset)', parse: secretString(16) }),
  /** `open`: clients pick their names; `token`: names come only from JWTs signed with jwtSecret. */
  authMode: row({ default: 'open', env: 'ROOMS_AUTH_MODE', flag: 'auth-mode', arg: '<mode>', describe: 'open (clients pick names) or token (names come from JWTs)', parse: oneOf(AUTH_MODES) }),
  /** The HS256 secret shared with the application that mints tokens; required in token mode. */
  jwtSecret: row({ default: null, env: 'ROOMS_JWT_SECRET', arg: '<secret>', describe: 'HS256 secret shared with the app that mints tokens', parse: secretString(32) }),
  /** Milliseconds a new connection has to send a valid `auth`. */
  authTimeout: row({ default: 10_000, env: 'ROOMS_AUTH_TIMEOUT', flag: 'auth-timeout', arg: '<ms>', describe: 'milliseconds a new connection has to send auth', parse: integer(1, 3_600_000) }),
  /** Milliseconds between pings; a member that missed the previous ping is terminated. */
  heartbeatInterval: row({ default: 30_000, env: 'ROOMS_HEARTBEAT_INTERVAL', flag: 'heartbeat-interval', arg: '<ms>', describe: 'milliseconds between pings; a member that misses one is dropped', parse: integer(1, 3_600_000) }),
  /** node-cron schedule of the job that reaps empty channels. */
  reapSchedule: row({ default: '*/5 * * * *', env: 'ROOMS_REAP_SCHEDULE', flag: 'reap-schedule', arg: '<cron>', describe: 'cron schedule of the job that removes empty channels', parse: schedule }),
  /** Largest frame or message accepted, in bytes; larger ones close the connection with 1009. */
  maxPayload: row({ default: 65_536, env: 'ROOMS_MAX_PAYLOAD', flag: 'max-payload', arg: '<bytes>', describe: 'largest message accepted, in bytes', parse: integer(1, 104_857_600) }),
  /** Milliseconds a client has to send the complete upgrade request; a slower one is dropped. */
  handshakeTimeout: row({ default: 10_000, env: 'ROOMS_HANDSHAKE_TIMEOUT', flag: 'handshake-timeout', arg: '<ms>', describe: 'milliseconds a client has to send its complete upgrade request', parse: integer(100, 600_000) }),
  /** Frames a connection may send per second on average (token bucket); 0 turns the limit off. */
  messageRate: row({ default: 20, env: 'ROOMS_MESSAGE_RATE', flag: 'message-rate', arg: '<n>', describe: 'frames per second a connection may send on average; 0 for no limit', parse: integer(0, 1_000_000) }),
  /** Frames a connection may send at once before the rate applies. */
  messageBurst: row({ default: 40, env: 'ROOMS_MESSAGE_BURST', flag: 'message-burst', arg: '<n>', describe: 'frames a connection may send at once before the rate applies', parse: integer(1, 1_000_000) }),
  /** Largest frame handled; a larger one (up to maxPayload) gets `message_too_long`. */
  maxMessageBytes: row({ default: 16_384, env: 'ROOMS_MAX_MESSAGE_BYTES', flag: 'max-message-bytes', arg: '<bytes>', describe: 'largest frame handled; larger ones get message_too_long', parse: integer(64, 104_857_600) }),
  /** Most names one `talk_with` may address. */
  maxRecipients: row({ default: 100, env: 'ROOMS_MAX_RECIPIENTS', flag: 'max-recipients', arg: '<n>', describe: 'most names one talk_with may address', parse: integer(1, 100_000) }),
  /** Open connections allowed from one IP address. */
  maxConnectionsPerIp: row({ default: 100, env: 'ROOMS_MAX_CONNECTIONS_PER_IP', flag: 'max-connections-per-ip', arg: '<n>', describe: 'open connections allowed from one IP address (429 past it)', parse: integer(1, 10_000_000) }),
  /** Open connections allowed in one channel. */
  maxMembersPerChannel: row({ default: 10_000, env: 'ROOMS_MAX_MEMBERS_PER_CHANNEL', flag: 'max-members-per-channel', arg: '<n>', describe: 'open connections allowed in one channel (503 past it)', parse: integer(1, 10_000_000) }),
  /** Channels allowed to exist at once. */
  maxChannels: row({ default: 100_000, env: 'ROOMS_MAX_CHANNELS', flag: 'max-channels', arg: '<n>', describe: 'channels allowed at once (503 past it)', parse: integer(1, 100_000_000) }),
  /** Open connections allowed on the server. */
  maxConnections: row({ default: 50_000, env: 'ROOMS_MAX_CONNECTIONS', flag: 'max-connections', arg: '<n>', describe: 'open connections allowed on the server (503 past it)', parse: integer(1, 100_000_000) }),
  /** Origins allowed to connect (`*` matches a host name part); empty allows any. */
  allowedOrigins: row({ default: [], env: 'ROOMS_ALLOWED_ORIGINS', flag: 'allowed-origin', arg: '<origin>', describe: 'origin allowed to connect, * for a host name part; repeat for several; none allows any', parse: origins }),
  /** Whether an upgrade without an Origin header is refused. */
  requireOrigin: row({ default: false, env: 'ROOMS_REQUIRE_ORIGIN', flag: 'require-origin', arg: '<bool>', describe: 'refuse upgrades without an Origin header', parse: bool }),
  /** Milliseconds of fan-out a tick may spend before new frames from clients wait for the next; 0: one frame a tick. */
  tickBudget: row({ default: 20, env: 'ROOMS_TICK_BUDGET', flag: 'tick-budget', arg: '<ms>', describe: 'milliseconds of fan-out a tick may spend before frames from clients wait for the next (0: one frame a tick)', parse: integer(0, 1_000) }),
  /** Bytes a member may have waiting to be sent before it is closed as too slow. */
  maxBufferedBytes: row({ default: 1_048_576, env: 'ROOMS_MAX_BUFFERED_BYTES', flag: 'max-buffered-bytes', arg: '<bytes>', describe: 'bytes a member may have waiting to be sent before it is closed as too slow', parse: integer(1_024, 1_073_741_824) }),
  /** Redis URL shared by every node; null keeps everything in this process (the memory engine). */
  redis: row({ default: null, env: 'ROOMS_REDIS', flag: 'redis', arg: '<url>', describe: 'Redis URL shared by every node (redis://HOST:PORT, redis+sentinel://HOST:PORT,HOST:PORT/MASTER, or redis+cluster://HOST:PORT,HOST:PORT); none keeps everything in this process', parse: redisUrl }),
  /** Prefix of every Redis key and topic, so several deployments can share one Redis. */
  redisPrefix: row({ default: 'rooms', env: 'ROOMS_REDIS_PREFIX', flag: 'redis-prefix', arg: '<prefix>', describe: 'prefix of every Redis key and topic', parse: prefix }),
  /** Messages kept per channel for clients that resume. */
  historySize: row({ default: 1_000, env: 'ROOMS_HISTORY_SIZE', flag: 'history-size', arg: '<n>', describe: 'messages kept per channel for clients that resume', parse: integer(0, 1_000_000) }),
  /** Milliseconds a channel's history (and the message ids seen in it) outlive its last message. */
  historyTtl: row({ default: 600_000, env: 'ROOMS_HISTORY_TTL', flag: 'history-ttl', arg: '<ms>', describe: 'milliseconds a channel keeps its history after its last message', parse: integer(1_000, 604_800_000) }),
  /** Milliseconds Redis has to answer a command or a probe before this node counts as cut off from it. */
  redisTimeout: row({ default: 2_000, env: 'ROOMS_REDIS_TIMEOUT', flag: 'redis-timeout', arg: '<ms>', describe: 'milliseconds Redis has to answer before this node serves its own members only', parse: integer(100, 8_000) }),
  /** Milliseconds after which the members of a node that stopped answering are removed. */
  presenceTtl: row({ default: 5_000, env: 'ROOMS_PRESENCE_TTL', flag: 'presence-ttl', arg: '<ms>', describe: 'milliseconds before the members of a silent node are removed', parse: integer(500, 600_000) }),
  /** Keys of the HTTP API under /api; none turns the API off (every request gets 401). */
  apiKeys: row({ default: [], env: 'ROOMS_API_KEYS', arg: '<json>', describe: 'keys of the HTTP API: [{"name":"backend","key":"at least 16 characters"}]', parse: apiKeys }),
  /** Largest HTTP API request body, in bytes; a larger one gets 413. */
  apiMaxBodyBytes: row({ default: 65_536, env: 'ROOMS_API_MAX_BODY_BYTES', flag: 'api-max-body-bytes', arg: '<bytes>', describe: 'largest HTTP API request body (413 past it)', parse: integer(64, 104_857_600) }),
  /** Endpoints that receive webhook events. */
  webhooks: row({ default: [], env: 'ROOMS_WEBHOOKS', arg: '<json>', describe: 'webhook endpoints: [{"url":"https://...","events":["member_added"]}]', parse: webhooks }),
  /** Key of the HMAC-SHA256 signature on every webhook request; required when webhooks are set. */
  webhookSecret: row({ default: null, env: 'ROOMS_WEBHOOK_SECRET', arg: '<secret>', describe: 'key of the HMAC-SHA256 signature of webhook requests', parse: secretString(16) }),
  /** Milliseconds events wait to be sent together in one webhook request. */
  webhookBatchWait: row({ default: 250, env: 'ROOMS_WEBHOOK_BATCH_WAIT', flag: 'webhook-batch-wait', arg: '<ms>', describe: 'milliseconds webhook events wait to be sent together', parse: integer(0, 60_000) }),
  /** Webhook events held per endpoint while it is slow or failing; past it new events are dropped. */
  webhookQueueSize: row({ default: 10_000, env: 'ROOMS_WEBHOOK_QUEUE_SIZE', flag: 'webhook-queue-size', arg: '<n>', describe: 'webhook events held per endpoint; past it new ones are dropped', parse: integer(1, 10_000_000) }),
  /** Times a failed webhook request is retried, with exponential backoff, before its events are dropped. */
  webhookRetries: row({ default: 5, env: 'ROOMS_WEBHOOK_RETRIES', flag: 'webhook-retries', arg: '<n>', describe: 'retries of a failed webhook request before its events are dropped', parse: integer(0, 100) }),
  /** Milliseconds a webhook endpoint has to answer one request. */
  webhookTimeout: row({ default: 5_000, env: 'ROOMS_WEBHOOK_TIMEOUT', flag: 'webhook-timeout', arg: '<ms>', describe: 'milliseconds a webhook endpoint has to answer', parse: integer(100, 600_000) }),
  /** Milliseconds that members get to answer the 1001 close on shutdown before being cut. */
  shutdownTimeout: row({ default: 3_000, env: 'ROOMS_SHUTDOWN_TIMEOUT', flag: 'shutdown-timeout', arg: '<ms>', describe: 'milliseconds members get to close on shutdown', parse: integer(0, 60_000) }),
};

/** Every setting of a room server, typed by what its row's parser returns. */
export type Config = { [K in keyof typeof ROWS]: ReturnType<(typeof ROWS)[K]['parse']> };

/** The table seen through `Config`, so that indexing it with a generic key keeps the key's type. */
const TABLE: { readonly [K in keyof Config]: Row<Config[K]> } = ROWS;

/** A row with its key; `Setting` alone is any of them, narrowed by comparing `key`. */
export type Setting<K extends keyof Config = keyof Config> = { [P in K]: Row<Config[P]> & { key: P } }[K];

function isKey(key: string): key is keyof Config {
  return Object.hasOwn(TABLE, key);
}

function withKey<K extends keyof Config>(key: K): Setting<K> {
  return { key, ...TABLE[key] };
}

export const SETTINGS: readonly Setting[] = Object.keys(TABLE).filter(isKey).map(withKey);

/** Every default; config/default.json is this, written by JSON.stringify(DEFAULTS, null, 2). */
export const DEFAULTS: Readonly<Config> = Object.freeze(
  // fromEntries loses the pairing of keys and values; each entry is a row's key and its default.
  Object.fromEntries(SETTINGS.map((s) => [s.key, s.default])) as Config,
);

function parseInto<K extends keyof Config>(out: Partial<Config>, key: K, value: unknown, where: string): void {
  out[key] = TABLE[key].parse(value, where);
}

/**
 * Validates a partial config (from the API or a config file) and returns the typed values.
 * `source` names where it came from in error messages, e.g. `config/prod.json`.
 */
export function parsePartial(input: unknown, source: string): Partial<Config> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(source, `${source} must be a JSON object of settings`);
  }
  const out: Partial<Config> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!isKey(key)) {
      throw new ConfigError(key, `${source}: unknown setting "${key}"; known settings: ${SETTINGS.map((s) => s.key).join(', ')}`);
    }
    if (value !== undefined) parseInto(out, key, value, `${source}: ${key}`);
  }
  return out;
}

/**
 * Reads the settings of a source of raw values, such as the environment or the flags: `read` gives
 * a setting's value (undefined when the source lacks it), `name` how an error names the setting.
 */
export function readSettings(read: (setting: Setting) => unknown, name: (setting: Setting) => string): Partial<Config> {
  const out: Partial<Config> = {};
  for (const setting of SETTINGS) {
    const value = read(setting);
    if (value !== undefined) parseInto(out, setting.key, value, name(setting));
  }
  return out;
}

/** Reads the settings given as ROOMS_* environment variables. */
export function fromEnv(env: NodeJS.ProcessEnv): Partial<Config> {
  return readSettings((s) => env[s.env], (s) => s.env);
}

/** Reads and validates a JSON config file. */
export function loadConfigFile(file: string): Partial<Config> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError('config', `--config ${file}: cannot read the file (${reason})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // JSON.parse may quote the text around the fault, and that text may be a secret: say only where.
    const at = /at position (\d+)/.exec((err as Error).message);
    const where = at === null ? '' : ` at line ${lineOf(text, Number(at[1]))}`;
    throw new ConfigError('config', `--config ${file}: not valid JSON${where}; check the commas, quotes and braces there`);
  }
  return parsePartial(json, file);
}

/** The 1-based line of a character offset in a text. */
function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** Merges layers over DEFAULTS, later layers winning, and checks the settings that go together. */
export function mergeConfig(...layers: Partial<Config>[]): Config {
  const merged: Config = structuredClone(DEFAULTS);
  for (const layer of layers) Object.assign(merged, layer);
  if (merged.authMode === 'token' && merged.jwtSecret === null) {
    throw new ConfigError('jwtSecret', 'authMode token needs jwtSecret: set ROOMS_JWT_SECRET or jwtSecret in a config file');
  }
  if (merged.webhooks.length > 0 && merged.webhookSecret === null) {
    throw new ConfigError('webhookSecret', 'webhooks need webhookSecret to sign their requests: set ROOMS_WEBHOOK_SECRET or webhookSecret in a config file');
  }
  if (merged.workers > 1 && merged.redis === null) {
    throw new ConfigError('workers', `workers ${merged.workers} needs redis: each worker is a node, and nodes share channels only through Redis; set --redis (or ROOMS_REDIS), or run one worker`);
  }
  // The other nodes remove a node silent for 0.6 x presenceTtl: it must know it is cut off first.
  const silentFor = Math.round(merged.presenceTtl * 0.6);
  if (merged.redis !== null && merged.redisTimeout >= silentFor) {
    throw new ConfigError('redisTimeout', `redisTimeout (${merged.redisTimeout} ms) must be below 0.6 x presenceTtl (${silentFor} ms), or a stalled Redis gets live members removed: lower redisTimeout or raise presenceTtl`);
  }
  return merged;
}
