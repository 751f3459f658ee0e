// (k) Latency across nodes on Redis: the fixed rate of (b), the publisher on one node and every
// receiver on the others, so each delivery timed has crossed Redis.
import type { RedisTopology } from '../lib/api.js';
import type { Sizes } from '../lib/sizes.js';
import { atRate, totalSent, type Outcome } from './common.js';
import type { OnRedis } from './measurement.js';
import { connectChannelAcross, NODES, nodesFrom, ON_TOPOLOGY, REDIS_SERVERS, redisFigures, redisIdle } from './on-redis.js';

const CHANNEL = 'latency';

export function latencyOnRedis(sizes: Sizes, topology: RedisTopology): OnRedis {
  const { members: memberCount, hz, warmupMs, windowMs } = sizes.latencyOnRedis;
  const on = ON_TOPOLOGY[topology];
  const label = `${hz} msg/s to ${memberCount.toLocaleString('en-US')} across nodes on ${on}`;
  return {
    key: `k-${topology}`,
    scenario: 'k',
    title: `(k) Latency across nodes at ${hz} msg/s to 1 channel of ${memberCount.toLocaleString('en-US')} members, ${NODES} nodes on ${on}`,
    method:
      `The publisher (a real client) on the first node sends on a fixed schedule; the other members are dealt out over the ` +
      `other ${NODES - 1} nodes. Every delivery in a ${windowMs / 1000} s window after ${warmupMs / 1000} s of warm-up is timed ` +
      "as in (b) (the publisher's own copy, 1 in " + `${memberCount.toLocaleString('en-US')}, included), with the CPU of every ` +
      "node per delivery and Redis's CPU per published message less its idle CPU, as in (i). At this rate Redis wakes up " +
      "for about every message, which the floods' batches spare it: this Redis figure is not comparable with theirs.",
    servers: REDIS_SERVERS,
    nodes: { count: NODES, redis: topology },
    figures: [
      { metric: 'p50', label: `latency p50, ${label}`, unit: 'ms', better: 'lower' },
      { metric: 'p99', label: `latency p99, ${label}`, unit: 'ms', better: 'lower' },
      { metric: 'cpu', label: `latency across nodes on ${on}: CPU per delivery, ${NODES} nodes`, unit: 'µs', better: 'lower' },
      { metric: 'redisCpu', label: `latency across nodes on ${on}: Redis CPU per published message`, unit: 'µs', better: 'lower' },
    ],
    async run(set, ctx): Promise<Outcome> {
      const { publisher, all } = await connectChannelAcross(ctx, set, CHANNEL, memberCount, nodesFrom(set, 1));
      const idle = await redisIdle(set, ctx.sizes.redisIdleMs);
      const { window, sent, problems, latencies } = await atRate(ctx, set, { publishers: [publisher], workers: all, perMemberHz: hz, warmupMs, windowMs });
      const { values: { rate, ...values }, info } = redisFigures(window, memberCount, idle);
      return {
        values: latencies === null ? values : { ...values, p50: latencies.p50Ms, p99: latencies.p99Ms },
        info: {
          members: memberCount,
          nodes: NODES,
          hz,
          samples: latencies?.count ?? 0,
          maxMs: latencies?.maxMs ?? Number.NaN,
          deliveriesPerSecond: rate,
          ...info,
          sent: totalSent(sent),
        },
        problems,
      };
    },
  };
}
