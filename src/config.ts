import { readFileSync } from 'node:fs';
import { validate as validCron } from 'node-cron';
import { ConfigError } from './errors.js';

export const AUTH_MODES = ['open', 'token'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

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

/** Every setting of a room server. config/default.json holds the same defaults as DEFAULTS. */
export interface Config {
  /** TCP port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on. */
  host: string;
  /** URL paths under which channels live, each as `PATH?id=<channel>`. */
  paths: string[];
  /** pino log level. */
  logLevel: LogLevel;
  /** Secret for connection tokens; null picks a random one per process. */
  secret: string | null;
  /** `open`: clients pick their names; `token`: names come only from JWTs signed with jwtSecret. */
  authMode: AuthMode;
  /** The HS256 secret shared with the application that mints tokens; required in token mode. */
  jwtSecret: string | null;
  /** Milliseconds a new connection has to send a valid `auth`. */
  authTimeout: number;
  /** Milliseconds between pings; a member that missed the previous ping is terminated. */
  heartbeatInterval: number;
  /** node-cron schedule of the job that reaps empty channels. */
  reapSchedule: string;
  /** Largest frame or message accepted, in bytes; larger ones close the connection with 1009. */
  maxPayload: number;
  /** Milliseconds that members get to answer the 1001 close on shutdown before being cut. */
  shutdownTimeout: number;
  /** Milliseconds a client has to send the complete upgrade request; a slower one is dropped. */
  handshakeTimeout: number;
  /** Frames a connection may send per second on average (token bucket); 0 turns the limit off. */
  messageRate: number;
  /** Frames a connection may send at once before the rate applies. */
  messageBurst: number;
  /** Largest frame handled; a larger one (up to maxPayload) gets `message_too_long`. */
  maxMessageBytes: number;
  /** Most names one `talk_with` may address. */
  maxRecipients: number;
  /** Open connections allowed from one IP address. */
  maxConnectionsPerIp: number;
  /** Open connections allowed in one channel. */
  maxMembersPerChannel: number;
  /** Channels allowed to exist at once. */
  maxChannels: number;
  /** Open connections allowed on the server. */
  maxConnections: number;
  /** Origins allowed to connect (`*` matches a host name part); empty allows any. */
  allowedOrigins: string[];
  /** Whether an upgrade without an Origin header is refused. */
  requireOrigin: boolean;
  /** Bytes a member may have waiting to be sent before it is closed as too slow. */
  maxBufferedBytes: number;
  /** Redis URL shared by every node; null keeps everything in this process (the memory engine). */
  redis: string | null;
  /** Prefix of every Redis key and topic, so several deployments can share one Redis. */
  redisPrefix: string;
  /** Messages kept per channel for clients that resume. */
  historySize: number;
  /** Milliseconds a channel's history (and the message ids seen in it) outlive its last message. */
  historyTtl: number;
  /** Milliseconds after which the members of a node that stopped answering are removed. */
  presenceTtl: number;
  /** Milliseconds Redis has to answer a command or a probe before this node counts as cut off from it. */
  redisTimeout: number;
  /** Keys of the HTTP API under /api; none turns the API off (every request gets 401). */
  apiKeys: ApiKey[];
  /** Largest HTTP API request body, in bytes; a larger one gets 413. */
  apiMaxBodyBytes: number;
  /** Endpoints that receive webhook events. */
  webhooks: Webhook[];
  /** Key of the HMAC-SHA256 signature on every webhook request; required when webhooks are set. */
  webhookSecret: string | null;
  /** Milliseconds events wait to be sent together in one webhook request. */
  webhookBatchWait: number;
  /** Webhook events held per endpoint while it is slow or failing; past it new events are dropped. */
  webhookQueueSize: number;
  /** Times a failed webhook request is retried, with exponential backoff, before its events are dropped. */
  webhookRetries: number;
  /** Milliseconds a webhook endpoint has to answer one request. */
  webhookTimeout: number;
}

export const DEFAULTS: Readonly<Config> = Object.freeze({
  port: 3000,
  host: '127.0.0.1',
  paths: ['/channel'],
  logLevel: 'info',
  secret: null,
  authMode: 'open',
  jwtSecret: null,
  authTimeout: 10_000,
  heartbeatInterval: 30_000,
  reapSchedule: '*/5 * * * *',
  maxPayload: 65_536,
  shutdownTimeout: 3_000,
  maxBufferedBytes: 1_048_576,
  handshakeTimeout: 10_000,
  messageRate: 20,
  messageBurst: 40,
  maxMessageBytes: 16_384,
  maxRecipients: 100,
  maxConnectionsPerIp: 100,
  maxMembersPerChannel: 10_000,
  maxChannels: 100_000,
  maxConnections: 50_000,
  allowedOrigins: [],
  requireOrigin: false,
  redis: null,
  redisPrefix: 'rooms',
  historySize: 1_000,
  historyTtl: 600_000,
  presenceTtl: 5_000,
  redisTimeout: 2_000,
  apiKeys: [],
  apiMaxBodyBytes: 65_536,
  webhooks: [],
  webhookSecret: null,
  webhookBatchWait: 250,
  webhookQueueSize: 10_000,
  webhookRetries: 5,
  webhookTimeout: 5_000,
});

type Parse<T> = (value: unknown, where: string) => T;

/** One row of the settings table: shared by the config file, the environment, the CLI and the docs. */
export interface Setting<K extends keyof Config = keyof Config> {
  key: K;
  env: string;
  /** Long flag without its dashes; absent for settings that must not appear in `ps` output. */
  flag?: string;
  /** Placeholder shown in `--help`. */
  arg: string;
  describe: string;
  parse: Parse<Config[K]>;
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

function integer(min: number, max: number): Parse<number> {
  const accepts = `an integer from ${min} to ${max}`;
  return (value, where) => {
    const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) fail(where, accepts, value);
    return n;
  };
}

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

const logLevel: Parse<LogLevel> = (value, where) => {
  const level = LOG_LEVELS.find((l) => l === value);
  if (level === undefined) fail(where, `one of ${LOG_LEVELS.join(', ')}`, value);
  return level;
};

const secret: Parse<string | null> = (value, where) => {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length < 16) fail(where, 'a string of at least 16 characters, or null', value);
  return value;
};

const authMode: Parse<AuthMode> = (value, where) => {
  const mode = AUTH_MODES.find((m) => m === value);
  if (mode === undefined) fail(where, `one of ${AUTH_MODES.join(', ')}`, value);
  return mode;
};

const jwtSecret: Parse<string | null> = (value, where) => {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length < 32) fail(where, 'a string of at least 32 characters, or null', value);
  return value;
};

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

const redisUrl: Parse<string | null> = (value, where) => {
  if (value === null || value === '') return null;
  if (typeof value !== 'string' || !/^rediss?:\/\/[^\s]+$/.test(value)) fail(where, 'a URL like redis://127.0.0.1:6379, or null', value);
  return value;
};

const prefix: Parse<string> = (value, where) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(value)) fail(where, '1 to 32 characters of A-Z a-z 0-9 . _ -', value);
  return value;
};

const flag: Parse<boolean> = (value, where) => {
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

function row<K extends keyof Config>(setting: Setting<K>): Setting {
  return setting as unknown as Setting;
}

/** The settings table, in the order `--help` and docs/configuration.md list them. */
export const SETTINGS: readonly Setting[] = [
  row({ key: 'port', env: 'ROOMS_PORT', flag: 'port', arg: '<port>', describe: 'TCP port to listen on (0 picks a free one)', parse: integer(0, 65_535) }),
  row({ key: 'host', env: 'ROOMS_HOST', flag: 'host', arg: '<host>', describe: 'address to listen on', parse: host }),
  row({ key: 'paths', env: 'ROOMS_PATHS', flag: 'path', arg: '<path>', describe: 'URL path under which channels live; repeat for several', parse: paths }),
  row({ key: 'logLevel', env: 'ROOMS_LOG_LEVEL', flag: 'log-level', arg: '<level>', describe: `log level: ${LOG_LEVELS.join(', ')}`, parse: logLevel }),
  row({ key: 'secret', env: 'ROOMS_SECRET', arg: '<secret>', describe: 'secret for connection tokens (random per process when unset)', parse: secret }),
  row({ key: 'authMode', env: 'ROOMS_AUTH_MODE', flag: 'auth-mode', arg: '<mode>', describe: 'open (clients pick names) or token (names come from JWTs)', parse: authMode }),
  row({ key: 'jwtSecret', env: 'ROOMS_JWT_SECRET', arg: '<secret>', describe: 'HS256 secret shared with the app that mints tokens', parse: jwtSecret }),
  row({ key: 'authTimeout', env: 'ROOMS_AUTH_TIMEOUT', flag: 'auth-timeout', arg: '<ms>', describe: 'milliseconds a new connection has to send auth', parse: integer(1, 3_600_000) }),
  row({ key: 'heartbeatInterval', env: 'ROOMS_HEARTBEAT_INTERVAL', flag: 'heartbeat-interval', arg: '<ms>', describe: 'milliseconds between pings; a member that misses one is dropped', parse: integer(1, 3_600_000) }),
  row({ key: 'reapSchedule', env: 'ROOMS_REAP_SCHEDULE', flag: 'reap-schedule', arg: '<cron>', describe: 'cron schedule of the job that removes empty channels', parse: schedule }),
  row({ key: 'maxPayload', env: 'ROOMS_MAX_PAYLOAD', flag: 'max-payload', arg: '<bytes>', describe: 'largest message accepted, in bytes', parse: integer(1, 104_857_600) }),
  row({ key: 'handshakeTimeout', env: 'ROOMS_HANDSHAKE_TIMEOUT', flag: 'handshake-timeout', arg: '<ms>', describe: 'milliseconds a client has to send its complete upgrade request', parse: integer(100, 600_000) }),
  row({ key: 'messageRate', env: 'ROOMS_MESSAGE_RATE', flag: 'message-rate', arg: '<n>', describe: 'frames per second a connection may send on average; 0 for no limit', parse: integer(0, 1_000_000) }),
  row({ key: 'messageBurst', env: 'ROOMS_MESSAGE_BURST', flag: 'message-burst', arg: '<n>', describe: 'frames a connection may send at once before the rate applies', parse: integer(1, 1_000_000) }),
  row({ key: 'maxMessageBytes', env: 'ROOMS_MAX_MESSAGE_BYTES', flag: 'max-message-bytes', arg: '<bytes>', describe: 'largest frame handled; larger ones get message_too_long', parse: integer(64, 104_857_600) }),
  row({ key: 'maxRecipients', env: 'ROOMS_MAX_RECIPIENTS', flag: 'max-recipients', arg: '<n>', describe: 'most names one talk_with may address', parse: integer(1, 100_000) }),
  row({ key: 'maxConnectionsPerIp', env: 'ROOMS_MAX_CONNECTIONS_PER_IP', flag: 'max-connections-per-ip', arg: '<n>', describe: 'open connections allowed from one IP address (429 past it)', parse: integer(1, 10_000_000) }),
  row({ key: 'maxMembersPerChannel', env: 'ROOMS_MAX_MEMBERS_PER_CHANNEL', flag: 'max-members-per-channel', arg: '<n>', describe: 'open connections allowed in one channel (503 past it)', parse: integer(1, 10_000_000) }),
  row({ key: 'maxChannels', env: 'ROOMS_MAX_CHANNELS', flag: 'max-channels', arg: '<n>', describe: 'channels allowed at once (503 past it)', parse: integer(1, 100_000_000) }),
  row({ key: 'maxConnections', env: 'ROOMS_MAX_CONNECTIONS', flag: 'max-connections', arg: '<n>', describe: 'open connections allowed on the server (503 past it)', parse: integer(1, 100_000_000) }),
  row({ key: 'allowedOrigins', env: 'ROOMS_ALLOWED_ORIGINS', flag: 'allowed-origin', arg: '<origin>', describe: 'origin allowed to connect, * for a host name part; repeat for several; none allows any', parse: origins }),
  row({ key: 'requireOrigin', env: 'ROOMS_REQUIRE_ORIGIN', flag: 'require-origin', arg: '<bool>', describe: 'refuse upgrades without an Origin header', parse: flag }),
  row({ key: 'maxBufferedBytes', env: 'ROOMS_MAX_BUFFERED_BYTES', flag: 'max-buffered-bytes', arg: '<bytes>', describe: 'bytes a member may have waiting to be sent before it is closed as too slow', parse: integer(1_024, 1_073_741_824) }),
  row({ key: 'redis', env: 'ROOMS_REDIS', flag: 'redis', arg: '<url>', describe: 'Redis URL shared by every node (redis://HOST:PORT); none keeps everything in this process', parse: redisUrl }),
  row({ key: 'redisPrefix', env: 'ROOMS_REDIS_PREFIX', flag: 'redis-prefix', arg: '<prefix>', describe: 'prefix of every Redis key and topic', parse: prefix }),
  row({ key: 'historySize', env: 'ROOMS_HISTORY_SIZE', flag: 'history-size', arg: '<n>', describe: 'messages kept per channel for clients that resume', parse: integer(0, 1_000_000) }),
  row({ key: 'historyTtl', env: 'ROOMS_HISTORY_TTL', flag: 'history-ttl', arg: '<ms>', describe: 'milliseconds a channel keeps its history after its last message', parse: integer(1_000, 604_800_000) }),
  row({ key: 'redisTimeout', env: 'ROOMS_REDIS_TIMEOUT', flag: 'redis-timeout', arg: '<ms>', describe: 'milliseconds Redis has to answer before this node serves its own members only', parse: integer(100, 8_000) }),
  row({ key: 'presenceTtl', env: 'ROOMS_PRESENCE_TTL', flag: 'presence-ttl', arg: '<ms>', describe: 'milliseconds before the members of a silent node are removed', parse: integer(500, 600_000) }),
  row({ key: 'apiKeys', env: 'ROOMS_API_KEYS', arg: '<json>', describe: 'keys of the HTTP API: [{"name":"backend","key":"at least 16 characters"}]', parse: apiKeys }),
  row({ key: 'apiMaxBodyBytes', env: 'ROOMS_API_MAX_BODY_BYTES', flag: 'api-max-body-bytes', arg: '<bytes>', describe: 'largest HTTP API request body (413 past it)', parse: integer(64, 104_857_600) }),
  row({ key: 'webhooks', env: 'ROOMS_WEBHOOKS', arg: '<json>', describe: 'webhook endpoints: [{"url":"https://...","events":["member_added"]}]', parse: webhooks }),
  row({ key: 'webhookSecret', env: 'ROOMS_WEBHOOK_SECRET', arg: '<secret>', describe: 'key of the HMAC-SHA256 signature of webhook requests', parse: secret }),
  row({ key: 'webhookBatchWait', env: 'ROOMS_WEBHOOK_BATCH_WAIT', flag: 'webhook-batch-wait', arg: '<ms>', describe: 'milliseconds webhook events wait to be sent together', parse: integer(0, 60_000) }),
  row({ key: 'webhookQueueSize', env: 'ROOMS_WEBHOOK_QUEUE_SIZE', flag: 'webhook-queue-size', arg: '<n>', describe: 'webhook events held per endpoint; past it new ones are dropped', parse: integer(1, 10_000_000) }),
  row({ key: 'webhookRetries', env: 'ROOMS_WEBHOOK_RETRIES', flag: 'webhook-retries', arg: '<n>', describe: 'retries of a failed webhook request before its events are dropped', parse: integer(0, 100) }),
  row({ key: 'webhookTimeout', env: 'ROOMS_WEBHOOK_TIMEOUT', flag: 'webhook-timeout', arg: '<ms>', describe: 'milliseconds a webhook endpoint has to answer', parse: integer(100, 600_000) }),
  row({ key: 'shutdownTimeout', env: 'ROOMS_SHUTDOWN_TIMEOUT', flag: 'shutdown-timeout', arg: '<ms>', describe: 'milliseconds members get to close on shutdown', parse: integer(0, 60_000) }),
];

const BY_KEY = new Map<string, Setting>(SETTINGS.map((s) => [s.key, s]));

/**
 * Validates a partial config (from the API or a config file) and returns the typed values.
 * `source` names where it came from in error messages, e.g. `config/prod.json`.
 */
export function parsePartial(input: unknown, source: string): Partial<Config> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(source, `${source} must be a JSON object of settings`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const setting = BY_KEY.get(key);
    if (setting === undefined) {
      throw new ConfigError(key, `${source}: unknown setting "${key}"; known settings: ${[...BY_KEY.keys()].join(', ')}`);
    }
    if (value !== undefined) out[key] = setting.parse(value, `${source}: ${key}`);
  }
  return out as Partial<Config>;
}

/** Reads the settings given as ROOMS_* environment variables. */
export function fromEnv(env: NodeJS.ProcessEnv): Partial<Config> {
  const out: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    if (raw !== undefined) out[setting.key] = setting.parse(raw, setting.env);
  }
  return out as Partial<Config>;
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
    throw new ConfigError('config', `--config ${file}: not valid JSON (${(err as Error).message})`);
  }
  return parsePartial(json, file);
}

/** Merges layers over DEFAULTS, later layers winning, and checks the settings that go together. */
export function mergeConfig(...layers: Partial<Config>[]): Config {
  const merged: Config = { ...DEFAULTS, paths: [...DEFAULTS.paths], allowedOrigins: [...DEFAULTS.allowedOrigins], apiKeys: [], webhooks: [] };
  for (const layer of layers) Object.assign(merged, layer);
  if (merged.authMode === 'token' && merged.jwtSecret === null) {
    throw new ConfigError('jwtSecret', 'authMode token needs jwtSecret: set ROOMS_JWT_SECRET or jwtSecret in a config file');
  }
  if (merged.webhooks.length > 0 && merged.webhookSecret === null) {
    throw new ConfigError('webhookSecret', 'webhooks need webhookSecret to sign their requests: set ROOMS_WEBHOOK_SECRET or webhookSecret in a config file');
  }
  return merged;
}
