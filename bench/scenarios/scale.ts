// (g) Scale: many authenticated members held in many channels with steady broadcasts, then every
// client closing at once. The figures are delivery latency and the server's longest event-loop
// stalls (rooms' heartbeats included), not throughput.
import { nowMs } from '../lib/marker.js';
import type { Sizes } from '../lib/sizes.js';
import { mergeLatency } from '../lib/stats.js';
import { connectAll, members, profiled, snapshot, sleep, split, stopPublishing, totalSent, verify, windowOf, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

const CLOSE_TIMEOUT_MS = 120_000;

export function scale(sizes: Sizes): Measurement {
  const { channels, perChannel, hz, heartbeatMs, warmupMs, windowMs } = sizes.scale;
  const total = channels * perChannel;
  const shape = `${total.toLocaleString('en-US')} members`;
  return {
    key: 'g',
    scenario: 'g',
    title: `(g) Scale: ${shape} in ${channels.toLocaleString('en-US')} channels, ${hz} broadcast per channel per second`,
    method:
      `One member of each channel publishes ${hz} msg/s (phases spread evenly over the channels), the other ` +
      `${perChannel - 1} only receive, over the receiving workers (at most 15,000 sockets each). Over ${windowMs / 1000} s ` +
      `after ${warmupMs / 1000} s of warm-up: the latency of every delivery, and the longest gap of a 1 ms timer in the server. ` +
      `rooms runs with a heartbeat every ${heartbeatMs / 1000} s (default 30 s), so the window holds its beats; Bun's ` +
      'keepalive is uWebSockets\' idle timeout, which pings only idle sockets (none here). Then every client closes at ' +
      'once; the time runs until the server holds no connection, with the longest stall in between. Run for rooms and ' +
      'Bun only, to keep a full run short.',
    servers: ['rooms', 'bun'],
    settings: { heartbeatMs },
    figures: [
      { metric: 'p50', label: `scale ${shape}: delivery p50`, unit: 'ms', better: 'lower' },
      { metric: 'p99', label: `scale ${shape}: delivery p99`, unit: 'ms', better: 'lower' },
      { metric: 'stall', label: `scale ${shape}: longest event-loop stall`, unit: 'ms', better: 'lower' },
      { metric: 'closeMs', label: `scale ${shape}: all closing at once, until none left`, unit: 'ms', better: 'lower' },
      { metric: 'closeStall', label: `scale ${shape}: all closing at once, longest stall`, unit: 'ms', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { publisher, receivers, all } = await ctx.fleet.workers();
      const ids = Array.from({ length: channels }, (_, c) => `scale${c}`);
      const publishing = ids.flatMap((id) => members(id, 1, () => 0, true));
      const receiving = split(ids.flatMap((id) => members(id, perChannel - 1, () => 0, false, 1)), receivers.length);
      const base = await server.rpc.call('stats', { gc: false });
      const connectStarted = nowMs();
      await connectAll(ctx, server, [
        { worker: publisher, members: publishing, kind: 'ws' },
        ...receiving.map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })),
      ], 1);
      const connectMs = nowMs() - connectStarted;
      const held = await server.rpc.call('stats', { gc: false });

      await publisher.call('rate', { perMemberHz: hz });
      await sleep(warmupMs);
      await server.rpc.call('stallStart', null);
      const { before, after } = await profiled(ctx, server, 'g', async () => {
        const start = await snapshot(server, all, true, false);
        await sleep(windowMs);
        return { before: start, after: await snapshot(server, all, false, true) };
      });
      const stall = await server.rpc.call('stallStop', null);
      const sent = await stopPublishing([publisher]);
      const problems = await verify(ctx, all, sent);
      const window = windowOf(before, after);
      const latencies = mergeLatency(after.marks.map((mark) => mark.histogram));
      if (latencies === null) problems.push('no latency samples');

      await server.rpc.call('stallStart', null);
      const closeStarted = nowMs();
      await ctx.fleet.resetWorkers();
      const drained = await server.rpc.call('drained', { timeoutMs: CLOSE_TIMEOUT_MS }, CLOSE_TIMEOUT_MS + 30_000);
      const closeStall = await server.rpc.call('stallStop', null);
      if (drained.connections > 0) problems.push(`${drained.connections} connections still open ${CLOSE_TIMEOUT_MS / 1000} s after every client closed`);

      const values: Record<string, number> = { stall: stall.longestMs, closeMs: drained.at - closeStarted, closeStall: closeStall.longestMs };
      if (latencies !== null) Object.assign(values, { p50: latencies.p50Ms, p99: latencies.p99Ms });
      return {
        values,
        info: {
          members: total,
          channels,
          hz,
          heartbeatMs,
          connectMs,
          rssPerMemberKB: (held.rss - base.rss) / total / 1024,
          rssMB: held.rss / 2 ** 20,
          maxMs: latencies?.maxMs ?? Number.NaN,
          samples: latencies?.count ?? 0,
          stallsOver50: stall.over50,
          closeStallsOver50: closeStall.over50,
          deliveriesPerSecond: window.perSecond,
          cpuUsPerDelivery: window.cpuUsPerDelivery,
          sent: totalSent(sent),
        },
        problems,
      };
    },
  };
}
