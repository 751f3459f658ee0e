// (a) Fan-out flood: one channel, one publisher as fast as credit-based backpressure allows.
// The publisher may run at most `credit` messages ahead of the slowest receiver: workers report
// their slowest client's counter every 5 ms, and this harness forwards the new credit.
import type { Sizes } from '../lib/sizes.js';
import { connectOneChannel, PROGRESS_MS, profiled, totalSent, underCredit, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

const CHANNEL = 'flood';

export function flood(sizes: Sizes, memberCount: number): Measurement {
  return {
    key: `a${memberCount}`,
    scenario: 'a',
    title: `(a) Fan-out flood, 1 channel of ${memberCount.toLocaleString('en-US')} members`,
    method:
      `A publisher (a real client) sends as fast as credit allows: at most ${sizes.flood.credit} messages ahead of the ` +
      `slowest receiver, whose progress the workers report every ${PROGRESS_MS} ms. Deliveries per second counted at ` +
      `the clients over ${sizes.flood.windowMs / 1000} s after ${sizes.flood.warmupMs / 1000} s of warm-up; server CPU over the same window. ` +
      'Servers that coalesce writes per tick gain from a larger window (more messages per tick); send() per member does not.',
    figures: [
      { metric: 'rate', label: `flood ${memberCount.toLocaleString('en-US')} members`, unit: 'deliveries/s', better: 'higher' },
      { metric: 'cpu', label: `flood ${memberCount.toLocaleString('en-US')}: server CPU per delivery`, unit: 'µs', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { credit: ahead, warmupMs, windowMs } = sizes.flood;
      const { publisher, all } = await connectOneChannel(ctx, server, CHANNEL, memberCount);
      const { window, sent, problems } = await underCredit(ctx, server, { publisher, workers: all, ahead, warmupMs, windowMs }, (work) =>
        profiled(ctx, server, `a${memberCount}`, work),
      );
      return {
        values: { rate: window.perSecond, cpu: window.cpuUsPerDelivery },
        info: { members: memberCount, delivered: window.delivered, frameBytes: window.frameBytes, sent: totalSent(sent), credit: ahead },
        problems,
      };
    },
  };
}
