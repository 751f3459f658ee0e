// (d) Idle: authenticated members doing nothing; server RSS and heap per member after a GC.
import { join } from 'node:path';
import type { Sizes } from '../lib/sizes.js';
import { connectAll, members, sleep, split, verify, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

const KB = 1024;
const SNAPSHOT_MS = 300_000;

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
      `minus the same before they connected, divided by the members. RSS leaves out V8's young generation (its new ` +
      'space), which the connection storm grew and V8 gives back some seconds later (about 5 s in a check here): a ' +
      "cache of a fixed size that no member holds, 1.5-2.5 KB a member when read after 1 s. Bun's heap is JavaScriptCore's: uWebSockets' " +
      'per-socket state lives outside it (RSS counts it).',
    figures: [
      { metric: 'rss', label: `idle ${shape}: RSS per member`, unit: 'KB', better: 'lower' },
      { metric: 'heap', label: `idle ${shape}: heap per member`, unit: 'KB', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { receivers } = await ctx.fleet.workers();
      const base = await server.rpc.call('stats', { gc: true });
      // Snapshots come after the RSS readings they would otherwise inflate (bench/profile.ts reads them).
      const snapshot = async (name: string): Promise<void> => {
        if (ctx.heapSnapshots !== '') await server.rpc.call('heapSnapshot', { file: join(ctx.heapSnapshots, `${server.name}-idle-${name}.heapsnapshot`) }, SNAPSHOT_MS);
      };
      await snapshot('base');
      const rooms = Array.from({ length: channels }, (_, c) => members(`idle${c}`, perChannel, () => 0, false));
      const blocks = split(rooms, receivers.length).map((block) => block.flat());
      await connectAll(ctx, server, blocks.map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })), 1);
      await sleep(settleMs);
      const loaded = await server.rpc.call('stats', { gc: true });
      await snapshot(String(total));
      const problems = await verify(ctx, receivers, []);
      const perMember = (after: number, before: number): number => (after - before) / total / KB;
      return {
        values: { rss: perMember(loaded.rss - loaded.young, base.rss - base.young), heap: perMember(loaded.heapUsed, base.heapUsed) },
        info: {
          members: total,
          channels,
          baseRss: base.rss,
          rss: loaded.rss,
          baseYoung: base.young,
          young: loaded.young,
          rssWithYoungKBPerMember: perMember(loaded.rss, base.rss),
          baseHeap: base.heapUsed,
          heap: loaded.heapUsed,
          externalKBPerMember: perMember(loaded.external, base.external),
          arrayBuffersKBPerMember: perMember(loaded.arrayBuffers, base.arrayBuffers),
        },
        problems,
      };
    },
  };
}
