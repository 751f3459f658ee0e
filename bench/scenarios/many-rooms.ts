// (c) Many rooms: `channels` channels of `perChannel` members, every member publishing at a low rate.
import type { Sizes } from '../lib/sizes.js';
import { atRate, connectAll, members, split, totalSent, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

export function manyRooms(sizes: Sizes): Measurement {
  const { channels, perChannel, perMemberHz, warmupMs, windowMs } = sizes.manyRooms;
  const shape = `${channels.toLocaleString('en-US')} × ${perChannel}`;
  return {
    key: 'c',
    scenario: 'c',
    title: `(c) Many rooms: ${shape} members, each publishing ${perMemberHz} msg/s`,
    method:
      `Every member publishes on a fixed schedule, phases spread evenly, and receives its channel's messages (its own ` +
      `included): ${(channels * perChannel * perChannel * perMemberHz).toLocaleString('en-US')} deliveries/s offered. ` +
      `Deliveries, latency and server CPU over ${windowMs / 1000} s after ${warmupMs / 1000} s of warm-up.`,
    figures: [
      { metric: 'rate', label: `many rooms ${shape}`, unit: 'deliveries/s', better: 'higher' },
      { metric: 'p99', label: `many rooms ${shape}: latency p99`, unit: 'ms', better: 'lower' },
      { metric: 'cpu', label: `many rooms ${shape}: server CPU per delivery`, unit: 'µs', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { receivers } = await ctx.fleet.workers();
      const rooms = Array.from({ length: channels }, (_, c) => members(`room${c}`, perChannel, (i) => i, true));
      const blocks = split(rooms, receivers.length).map((block) => block.flat());
      await connectAll(ctx, server, blocks.map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })), perChannel);
      const { window, sent, problems, latencies } = await atRate(ctx, server, { publishers: receivers, workers: receivers, perMemberHz, warmupMs, windowMs });
      const values: Record<string, number> = { rate: window.perSecond, cpu: window.cpuUsPerDelivery };
      if (latencies !== null) values.p99 = latencies.p99Ms;
      return {
        values,
        info: {
          channels,
          perChannel,
          perMemberHz,
          offeredPerSecond: channels * perChannel * perChannel * perMemberHz,
          p50Ms: latencies?.p50Ms ?? Number.NaN,
          maxMs: latencies?.maxMs ?? Number.NaN,
          frameBytes: window.frameBytes,
          sent: totalSent(sent),
        },
        problems,
      };
    },
  };
}
