// (i) Cross-node fan-out: the flood of (a), its members spread over several nodes on Redis, so
// that every message crosses Redis to reach two thirds of them.
import type { RedisTopology } from '../lib/api.js';
import type { Sizes } from '../lib/sizes.js';
import { PROGRESS_MS, totalSent, underCredit, type Outcome } from './common.js';
import type { OnRedis } from './measurement.js';
import { connectChannelAcross, NODES, nodesFrom, ON_TOPOLOGY, REDIS_SERVERS, redisFigures, redisIdle } from './on-redis.js';

const CHANNEL = 'fanout';

export function fanOutOnRedis(sizes: Sizes, topology: RedisTopology): OnRedis {
  const { members: memberCount, credit: ahead, warmupMs, windowMs } = sizes.fanOutOnRedis;
  const shape = `${memberCount.toLocaleString('en-US')} members`;
  const on = ON_TOPOLOGY[topology];
  return {
    key: `i-${topology}`,
    scenario: 'i',
    title: `(i) Cross-node fan-out: 1 channel of ${shape} over ${NODES} nodes on ${on}`,
    method:
      `The flood of (a) across ${NODES} nodes: the publisher (a real client) on the first node sends as fast as credit allows, ` +
      `at most ${ahead} messages ahead of the slowest receiver (progress every ${PROGRESS_MS} ms); the other members are ` +
      `dealt out over every node in turn. Over ${windowMs / 1000} s after ${warmupMs / 1000} s of warm-up: deliveries per ` +
      'second, the CPU of every node per delivery (rooms: against its own in (a) with as many members, one process), and ' +
      "Redis's CPU per published message, less what it used as long idle (read before publishing starts).",
    servers: REDIS_SERVERS,
    nodes: { count: NODES, redis: topology },
    figures: [
      { metric: 'rate', label: `cross-node fan-out ${shape} on ${on}`, unit: 'deliveries/s', better: 'higher' },
      { metric: 'cpu', label: `cross-node fan-out on ${on}: CPU per delivery, ${NODES} nodes`, unit: 'µs', better: 'lower', baseline: `a${memberCount}.cpu` },
      { metric: 'redisCpu', label: `cross-node fan-out on ${on}: Redis CPU per published message`, unit: 'µs', better: 'lower' },
    ],
    async run(set, ctx): Promise<Outcome> {
      const { publisher, all } = await connectChannelAcross(ctx, set, CHANNEL, memberCount, nodesFrom(set, 0));
      const idle = await redisIdle(set, ctx.sizes.redisIdleMs);
      const { window, sent, problems } = await underCredit(ctx, set, { publisher, workers: all, ahead, warmupMs, windowMs });
      const { values, info } = redisFigures(window, memberCount, idle);
      return { values, info: { members: memberCount, nodes: NODES, ...info, sent: totalSent(sent), credit: ahead }, problems };
    },
  };
}
