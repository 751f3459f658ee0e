// (b) Latency at a fixed rate: one publisher, `hz` messages per second to one channel.
import type { Sizes } from '../lib/sizes.js';
import { atRate, connectOneChannel, totalSent, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

const CHANNEL = 'latency';

export function latency(sizes: Sizes): Measurement {
  const { members: memberCount, hz, warmupMs, windowMs } = sizes.latency;
  const label = `${hz} msg/s to ${memberCount.toLocaleString('en-US')}`;
  return {
    key: 'b',
    scenario: 'b',
    title: `(b) Latency at ${hz} msg/s to 1 channel of ${memberCount.toLocaleString('en-US')} members`,
    method:
      `A publisher (a real client) sends on a fixed schedule; every delivery in a ${windowMs / 1000} s window after ` +
      `${warmupMs / 1000} s of warm-up is timed from the send timestamp in its payload to the receiving worker reading it, ` +
      "so it includes each worker's turn through its sockets (a few ms at this size, for every server alike).",
    figures: [
      { metric: 'p50', label: `latency p50, ${label}`, unit: 'ms', better: 'lower' },
      { metric: 'p99', label: `latency p99, ${label}`, unit: 'ms', better: 'lower' },
      { metric: 'max', label: `latency max, ${label}`, unit: 'ms', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { publisher, all } = await connectOneChannel(ctx, server, CHANNEL, memberCount);
      const { window, sent, problems, latencies } = await atRate(ctx, server, { publishers: [publisher], workers: all, perMemberHz: hz, warmupMs, windowMs });
      return {
        values: latencies === null ? {} : { p50: latencies.p50Ms, p99: latencies.p99Ms, max: latencies.maxMs },
        info: {
          members: memberCount,
          hz,
          samples: latencies?.count ?? 0,
          deliveriesPerSecond: window.perSecond,
          cpuUsPerDelivery: window.cpuUsPerDelivery,
          frameBytes: window.frameBytes,
          sent: totalSent(sent),
        },
        problems,
      };
    },
  };
}
