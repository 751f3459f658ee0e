// How big and how long every scenario is, for a full run and for the CI smoke run.
import { REDIS_TOPOLOGIES, type RedisTopology } from './api.js';

export interface Sizes {
  /** Length of each published message string: the 34-byte marker plus padding. */
  messageLength: number;
  /** How long receivers may take to catch up after publishing stops before a message counts as lost. */
  drainTimeoutMs: number;
  /** (i)-(k): how long Redis's CPU is read with every member connected and nothing published, before publishing starts. */
  redisIdleMs: number;
  /** (a) One channel, one publisher as fast as credit allows, for each member count. */
  flood: { members: number[]; credit: number; warmupMs: number; windowMs: number };
  /** (b) One channel, one publisher at a fixed rate. */
  latency: { members: number; hz: number; warmupMs: number; windowMs: number };
  /** (c) Many channels; every member publishes at a low rate. */
  manyRooms: { channels: number; perChannel: number; perMemberHz: number; warmupMs: number; windowMs: number };
  /** (d) Authenticated members doing nothing. */
  idle: { channels: number; perChannel: number; settleMs: number };
  /** (e) Connections opened and authenticated as fast as possible, `inFlight` at a time per worker. */
  storm: { connections: number; channels: number; inFlight: number };
  /** (f) Empty channels reaped at once. */
  reap: { channels: number };
  /**
   * (g) Many members held: one publisher per channel at `hz`, rooms' heartbeat every `heartbeatMs`
   * (so that the window holds beats), then every client closes at once.
   */
  scale: { channels: number; perChannel: number; hz: number; heartbeatMs: number; warmupMs: number; windowMs: number };
  /**
   * (h) One channel of `members`, `notReading` of which never read: what rooms delivers under the
   * flood's flow control (`credit`) over `capacityMs` after `capacityWarmupMs`, then twice that
   * offered for `windowMs`, messages of `messageLength`, with rooms' `maxBufferedBytes` set to this.
   */
  overload: {
    members: number;
    messageLength: number;
    notReading: number;
    credit: number;
    capacityWarmupMs: number;
    capacityMs: number;
    windowMs: number;
    maxBufferedBytes: number;
  };
  /**
   * (i) The flood across nodes on Redis: one channel, the publisher on the first node and the
   * other members spread over every node, `credit` as in (a). Each of (i)-(k) is measured once on
   * each of its `topologies`.
   */
  fanOutOnRedis: { members: number; credit: number; warmupMs: number; windowMs: number; topologies: readonly RedisTopology[] };
  /** (j) Many channels across nodes on Redis, one publisher each, every publisher at most `credit` ahead of the slowest receiver. */
  channelsOnRedis: { channels: number; perChannel: number; credit: number; warmupMs: number; windowMs: number; topologies: readonly RedisTopology[] };
  /** (k) Latency across nodes on Redis: one channel, the publisher on the first node at `hz`, the receivers on the others. */
  latencyOnRedis: { members: number; hz: number; warmupMs: number; windowMs: number; topologies: readonly RedisTopology[] };
}

export const FULL: Sizes = {
  messageLength: 34,
  drainTimeoutMs: 15_000,
  redisIdleMs: 1_000,
  flood: { members: [1_000, 5_000], credit: 256, warmupMs: 1_000, windowMs: 4_000 },
  latency: { members: 1_000, hz: 40, warmupMs: 1_000, windowMs: 8_000 },
  manyRooms: { channels: 1_000, perChannel: 10, perMemberHz: 0.5, warmupMs: 2_000, windowMs: 6_000 },
  idle: { channels: 100, perChannel: 100, settleMs: 1_000 },
  storm: { connections: 10_000, channels: 100, inFlight: 128 },
  reap: { channels: 100_000 },
  scale: { channels: 100, perChannel: 180, hz: 1, heartbeatMs: 5_000, warmupMs: 2_000, windowMs: 12_000 },
  // rooms' default maxBufferedBytes, 1 MiB.
  overload: { members: 1_000, messageLength: 100, notReading: 50, credit: 256, capacityWarmupMs: 1_000, capacityMs: 3_000, windowMs: 10_000, maxBufferedBytes: 1_048_576 },
  // (i) has as many members as a flood of (a), whose CPU per delivery it is compared with.
  fanOutOnRedis: { members: 1_000, credit: 256, warmupMs: 1_000, windowMs: 4_000, topologies: REDIS_TOPOLOGIES },
  channelsOnRedis: { channels: 300, perChannel: 10, credit: 32, warmupMs: 2_000, windowMs: 4_000, topologies: REDIS_TOPOLOGIES },
  latencyOnRedis: { members: 1_000, hz: 40, warmupMs: 1_000, windowMs: 8_000, topologies: REDIS_TOPOLOGIES },
};

export const SMOKE: Sizes = {
  messageLength: 34,
  drainTimeoutMs: 5_000,
  redisIdleMs: 100,
  // One size: the second ran the same code again, and CI's suite must stay under 5 minutes.
  flood: { members: [20], credit: 64, warmupMs: 200, windowMs: 500 },
  latency: { members: 20, hz: 40, warmupMs: 200, windowMs: 600 },
  manyRooms: { channels: 2, perChannel: 10, perMemberHz: 5, warmupMs: 200, windowMs: 600 },
  idle: { channels: 2, perChannel: 10, settleMs: 100 },
  storm: { connections: 50, channels: 2, inFlight: 16 },
  reap: { channels: 1_000 },
  scale: { channels: 2, perChannel: 10, hz: 5, heartbeatMs: 200, warmupMs: 200, windowMs: 600 },
  // The kernel takes about 4 MB for a socket that does not read before rooms' cap counts: the
  // window is long enough for the member not reading to be closed, with a small cap.
  overload: { members: 20, messageLength: 100, notReading: 1, credit: 64, capacityWarmupMs: 200, capacityMs: 300, windowMs: 3_000, maxBufferedBytes: 65_536 },
  // A cluster takes about 2 s to start (a fresh master waits that long before it says cluster_state:ok),
  // once per run: only (j), whose channels are on every shard, runs on one here.
  fanOutOnRedis: { members: 20, credit: 64, warmupMs: 200, windowMs: 500, topologies: ['single'] },
  channelsOnRedis: { channels: 6, perChannel: 4, credit: 16, warmupMs: 200, windowMs: 500, topologies: REDIS_TOPOLOGIES },
  latencyOnRedis: { members: 20, hz: 40, warmupMs: 200, windowMs: 400, topologies: ['single'] },
};
