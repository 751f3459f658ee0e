// (d) Idle: authenticated members doing nothing; server RSS and heap per member after a GC.
import type { Sizes } from '../lib/sizes.js';
import { connectAll, members, sleep, split, verify, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

const KB = 1024;

export function idle(sizes: Sizes): Measurement {
  const { channels, perChannel, settleMs } = sizes.idle;
  const total = channels * perChannel;
  const shape = `${total.toLocaleString('en-US')} members`;
  return {
    key: 'd',
    scenario: 'd',
    title: `(d) Idle: ${shape} in ${channels.toLocaleString('en-US')} channels`,
    method:
      `The server's RSS and heap after a forced GC, once all members have their token and ${settleMs / 1000} s passed, ` +
      `minus the same before they connected, divided by the members.`,
    figures: [
      { metric: 'rss', label: `idle ${shape}: RSS per member`, unit: 'KB', better: 'lower' },
      { metric: 'heap', label: `idle ${shape}: heap per member`, unit: 'KB', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { receivers } = await ctx.fleet.workers();
      const base = await server.rpc.call('stats', { gc: true });
      const rooms = Array.from({ length: channels }, (_, c) => members(`idle${c}`, perChannel, () => 0, false));
      const blocks = split(rooms, receivers.length).map((block) => block.flat());
      await connectAll(ctx, server, blocks.map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })), 1);
      await sleep(settleMs);
      const loaded = await server.rpc.call('stats', { gc: true });
      const problems = await verify(ctx, receivers, []);
      return {
        values: { rss: (loaded.rss - base.rss) / total / KB, heap: (loaded.heapUsed - base.heapUsed) / total / KB },
        info: { members: total, channels, baseRss: base.rss, rss: loaded.rss, baseHeap: base.heapUsed, heap: loaded.heapUsed },
        problems,
      };
    },
  };
}
