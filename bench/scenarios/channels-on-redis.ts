// (j) Many channels across nodes on Redis: every channel has a publisher flooding it under the
// flood's flow control, and members on every node.
import type { RedisTopology } from '../lib/api.js';
import type { Sizes } from '../lib/sizes.js';
import { channelMembers, totalSent, underCredit, type Outcome } from './common.js';
import type { OnRedis } from './measurement.js';
import { connectNodes, NODES, nodesFrom, ON_TOPOLOGY, REDIS_SERVERS, redisFigures, redisIdle, spread } from './on-redis.js';

export function channelsOnRedis(sizes: Sizes, topology: RedisTopology): OnRedis {
  const { channels, perChannel, credit: ahead, warmupMs, windowMs } = sizes.channelsOnRedis;
  const shape = `${channels.toLocaleString('en-US')} × ${perChannel}`;
  const on = ON_TOPOLOGY[topology];
  return {
    key: `j-${topology}`,
    scenario: 'j',
    title: `(j) Many channels: ${shape} members over ${NODES} nodes on ${on}, ${channels.toLocaleString('en-US')} publishers`,
    method:
      `One member of each channel publishes (real clients, all in the publisher worker), each at most ${ahead} messages ahead ` +
      `of the slowest receiver of any channel; publishers and receivers are dealt out over the ${NODES} nodes in turn, so ` +
      `every channel has members on every node. Over ${windowMs / 1000} s after ${warmupMs / 1000} s of warm-up: deliveries ` +
      "per second, the CPU of every node per delivery, Redis's CPU per published message less its idle CPU, as in (i), and " +
      'that idle CPU itself: what Redis spends per second on the connected channels while nothing is published.',
    servers: REDIS_SERVERS,
    nodes: { count: NODES, redis: topology },
    figures: [
      { metric: 'rate', label: `many channels ${shape} on ${on}`, unit: 'deliveries/s', better: 'higher' },
      { metric: 'cpu', label: `many channels on ${on}: CPU per delivery, ${NODES} nodes`, unit: 'µs', better: 'lower' },
      { metric: 'redisCpu', label: `many channels on ${on}: Redis CPU per published message`, unit: 'µs', better: 'lower' },
      // What Redis spends on the channels' upkeep (rooms' presence beats, one per channel and node), which redisCpu leaves out.
      { metric: 'redisIdle', label: `many channels on ${on}: Redis CPU with nothing published`, unit: 'ms/s', better: 'lower' },
    ],
    async run(set, ctx): Promise<Outcome> {
      const { publisher, receivers, all } = await ctx.fleet.workers();
      const rooms = Array.from({ length: channels }, (_, c) => channelMembers(`room${c}`, perChannel));
      const nodes = nodesFrom(set, 0);
      await connectNodes(ctx, set, [
        ...spread(rooms.flatMap((room) => room.publishing), nodes, [publisher], 'ws'),
        ...spread(rooms.flatMap((room) => room.receiving), nodes, receivers, ctx.kind),
      ], 1);
      const idle = await redisIdle(set, ctx.sizes.redisIdleMs);
      const { window, sent, problems } = await underCredit(ctx, set, { publisher, workers: all, ahead, warmupMs, windowMs });
      const { values, info } = redisFigures(window, perChannel, idle);
      return { values: { ...values, redisIdle: idle / 1000 }, info: { channels, perChannel, nodes: NODES, ...info, sent: totalSent(sent), credit: ahead }, problems };
    },
  };
}
