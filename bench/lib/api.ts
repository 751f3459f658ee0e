// What run.ts and its child processes say to each other.

export const SERVER_NAMES = ['rooms', 'ws-batched', 'ws-send', 'socketio', 'bun'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

/**
 * How the Redis under a server of several nodes is deployed: `single` is one redis-server;
 * `cluster` a Redis Cluster of CLUSTER_SHARDS masters (rooms on `redis+cluster://`, Socket.IO on
 * the redis adapter's createShardedAdapter).
 */
export const REDIS_TOPOLOGIES = ['single', 'cluster'] as const;
export type RedisTopology = (typeof REDIS_TOPOLOGIES)[number];

/** The masters of a `cluster`, each with an equal share of the slots and no replica. */
export const CLUSTER_SHARDS = 3;

/** Where a node finds its Redis: the topology, and the 127.0.0.1 ports of its servers (a cluster's: the seed nodes). */
export interface RedisTarget {
  topology: RedisTopology;
  ports: number[];
}

/** What a measurement may set in its server process, handed over as JSON in the child's argv[2]. */
export interface ServerSettings {
  /** The Redis this process is one node on (rooms and Socket.IO only); none: a server of one process. */
  redis?: RedisTarget;
  /** rooms' heartbeatInterval in ms; the peers have no heartbeat of their own to set. Default: an hour, so that none fires. */
  heartbeatMs?: number;
  /** rooms' maxBufferedBytes; the peers close no member as too slow. Default: rooms' own (1 MiB). */
  maxBufferedBytes?: number;
}

/** The settings run.ts passed to this server process. */
export function serverSettings(): ServerSettings {
  const text = process.argv[2];
  return text === undefined ? {} : (JSON.parse(text) as ServerSettings);
}

/** The wire protocol a server speaks: the rooms JSON events, or Socket.IO's. */
export type Proto = 'rooms' | 'socketio';
export function protoOf(server: ServerName): Proto {
  return server === 'socketio' ? 'socketio' : 'rooms';
}

/** `minimal`: a bare net.Socket that parses frame headers; `ws`: the real client (ws, or socket.io-client). */
export type ClientKind = 'minimal' | 'ws';

export interface ServerStats {
  /** process.cpuUsage() user + system, microseconds. */
  cpuUs: number;
  rss: number;
  /**
   * What of rss is V8's young generation (its new space, physical bytes; 0 under Bun): a cache of
   * a fixed size, grown by a burst of allocation such as a connection storm and given back some
   * seconds after it stops, which no member holds.
   */
  young: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JavaScript ones, Buffers' included (process.memoryUsage()). */
  external: number;
  arrayBuffers: number;
}

export interface ReapResult {
  channels: number;
  removed: number;
  createMs: number;
  reapMs: number;
  /** The longest gap between two turns of a 1 ms timer probe while reaping. */
  maxStallMs: number;
}

export interface Stall {
  /** The longest gap between two turns of a 1 ms timer probe, ms. */
  longestMs: number;
  /** Gaps of 50 ms or more. */
  over50: number;
}

export interface Drained {
  /** Wall-clock ms (performance.timeOrigin + now) when the server was first seen holding no connection (polled every ms). */
  at: number;
  /** Connections still open (0 unless the wait timed out). */
  connections: number;
}

/** A member rooms closed as too slow (4000), as rooms logged it. */
export interface SlowClose {
  user: string;
  /** The member's socket.writableLength when rooms gave up on it, bytes. */
  buffered: number;
  /** Wall-clock ms (performance.timeOrigin + now). */
  at: number;
}

export interface SlowCloses {
  /** The cap rooms closes members past. */
  maxBufferedBytes: number;
  closes: SlowClose[];
}

export type ServerApi = {
  stats: { params: { gc: boolean }; result: ServerStats };
  reap: { params: { channels: number }; result: ReapResult };
  /** Starts the server's stall probe (a 1 ms timer), replacing a running one. */
  stallStart: { params: null; result: null };
  /** Stops the stall probe started last and returns what it saw. */
  stallStop: { params: null; result: Stall };
  /** Starts a CPU profile through node's inspector (node servers only: Bun has no node:inspector). */
  profileStart: { params: null; result: null };
  /** Stops the CPU profile and writes it to `file` (a .cpuprofile). */
  profileStop: { params: { file: string }; result: null };
  /** Writes a heap snapshot (V8's format, from node and from Bun) to `file`. */
  heapSnapshot: { params: { file: string }; result: null };
  /** Resolves once the server holds no WebSocket connection, or after timeoutMs. */
  drained: { params: { timeoutMs: number }; result: Drained };
  /** Every member closed as too slow so far (rooms only: the peers close none). */
  slowCloses: { params: null; result: SlowCloses };
  shutdown: { params: null; result: null };
};
export type ServerEvents = { listening: { port: number } };

export interface MemberSpec {
  channel: string;
  user: string;
  /** This member's publisher slot in its channel: the marker carries it so receivers check each publisher's stream. */
  slot: number;
  publishes: boolean;
}

export interface ConnectParams {
  port: number;
  proto: Proto;
  kind: ClientKind;
  members: MemberSpec[];
  /** Publisher slots per channel: every receiver tracks a sequence per slot. */
  slots: number;
  localAddresses: string[];
  /** Connections in flight at once. */
  concurrency: number;
  /** Length of the published message string (marker plus padding). */
  messageLength: number;
  /**
   * The clients stop reading once authenticated (their sockets paused, minimal clients only):
   * members that never read. No progress report, wait or verdict counts them.
   */
  stalled: boolean;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  firstError: string | null;
  /** Wall-clock ms (performance.timeOrigin + now): comparable across processes. */
  startedAt: number;
  finishedAt: number;
}

export interface Mark {
  at: number;
  received: number;
  frameBytes: number;
  /** hdr-histogram-js compressed base64 of latencies in microseconds since the last reset. */
  histogram: string | null;
}

export interface SentCount { channel: string; slot: number; sent: number }

export interface Verdict {
  clients: number;
  /** Messages a receiver never got (sent minus received, counted per stream). */
  missing: number;
  /** Messages that arrived again, or after a later one of the same stream. */
  duplicates: number;
  /** Frames whose marker named no known stream. */
  unexpected: number;
  /** Receivers whose connection closed before the end. */
  closed: number;
}

export type WorkerApi = {
  connect: { params: ConnectParams; result: ConnectResult };
  /** Publish as fast as credit allows: every publishing member may send while its sequence < credit. */
  credit: { params: { credit: number }; result: null };
  /** Publish at a fixed rate per publishing member, phases spread evenly. */
  rate: { params: { perMemberHz: number }; result: null };
  stop: { params: null; result: SentCount[] };
  /** Report the slowest receiver's progress on slot 0 every `intervalMs`. */
  watch: { params: { intervalMs: number }; result: null };
  mark: { params: { resetHistogram: boolean; takeHistogram: boolean }; result: Mark };
  verify: { params: { sent: SentCount[]; timeoutMs: number }; result: Verdict };
  reset: { params: null; result: null };
};
export type WorkerEvents = { ready: null; progress: { minSeen: number } };

export interface HealthSample {
  /** When the request started, wall-clock ms (performance.timeOrigin + now). */
  at: number;
  /** From its start to the end of its response, ms; one unanswered at `stop` counts until then. */
  ms: number;
}

export interface HealthSamples {
  samples: HealthSample[];
  /** Requests that failed or were answered with a status other than 200. */
  failed: number;
}

/** The /healthz prober, a process of its own (scenario h). */
export type HealthApi = {
  /** Sends GET /healthz to 127.0.0.1:`port` every `intervalMs`, each on a fresh connection, not waiting for earlier answers. */
  start: { params: { port: number; intervalMs: number }; result: null };
  stop: { params: null; result: HealthSamples };
};
export type HealthEvents = { ready: null };
