// (h) Overload: one channel offered twice what the server can deliver, with 5 % of its members
// never reading. What it can deliver is measured first, in the same server process, under the
// flood's flow control; then the publisher offers twice that rate for a window, while a process
// of its own times GET /healthz. The figures: who was closed as too slow and with how much
// buffered, how the event loop and /healthz held up, the peak RSS, and whether the readers still
// got every message in order. rooms only: the peers have no maxBufferedBytes, close no member as
// too slow, and serve no /healthz or /metrics.
import { nowMs } from '../lib/marker.js';
import type { Sizes } from '../lib/sizes.js';
import { percentile } from '../lib/stats.js';
import { connectAll, members, settle, snapshot, sleep, split, startCredit, stopPublishing, totalSent, windowOf, type Outcome, type Window } from './common.js';
import { HealthProbe } from './fleet.js';
import type { Measurement } from './measurement.js';

const CHANNEL = 'overload';
/** Offered, as a multiple of the deliveries per second measured under flow control. */
const OFFERED = 2;
const HEALTH_EVERY_MS = 20;
const METRICS_TIMEOUT_MS = 30_000;
const SLOW_CONSUMERS = 'rooms_slow_consumers_total';
const DEFERRED_FRAMES = 'rooms_deferred_frames_total';
const MB = 2 ** 20;

/** Sums the samples of each of `names` in the server's GET /metrics (Prometheus text). */
async function counters(port: number, names: readonly string[]): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const sums = new Map<string, number>(names.map((name) => [name, 0]));
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)/.exec(line);
    const sum = match === null ? undefined : sums.get(match[1]);
    if (match !== null && sum !== undefined) sums.set(match[1], sum + Number(match[2]));
  }
  return sums;
}

export function overload(sizes: Sizes): Measurement {
  const { members: memberCount, messageLength, notReading, credit, capacityWarmupMs, capacityMs, windowMs, maxBufferedBytes } = sizes.overload;
  /** Reading members, the publisher among them. */
  const readers = memberCount - notReading;
  const shape = `${memberCount.toLocaleString('en-US')} members, ${notReading} not reading`;
  return {
    key: 'h',
    scenario: 'h',
    title: `(h) Overload: ${OFFERED}× what it can deliver to 1 channel of ${shape}`,
    method:
      `${notReading} of the members never read (minimal clients whose sockets are paused once authenticated); the others, the ` +
      `publisher among them, read and check every message's order. First what the server delivers to the readers under the ` +
      `flood's flow control (at most ${credit} messages ahead of the slowest reader), over ${capacityMs / 1000} s after ` +
      `${capacityWarmupMs / 1000} s of warm-up; then the publisher offers ${OFFERED}× that, on a fixed schedule, for ` +
      `${windowMs / 1000} s, ${messageLength}-character messages. Once it stops, the readers must still get every message in ` +
      'order when the backlog has drained (messages missed or out of order are a figure here, not a failure). rooms runs with ' +
      `maxBufferedBytes ${maxBufferedBytes.toLocaleString('en-US')}. From the window's start until the readers have caught up ` +
      'with the backlog it leaves (which the server goes on delivering at full speed): GET /healthz every ' +
      `${HEALTH_EVERY_MS} ms from a process of its own (a fresh connection each, not waiting for earlier answers; one unanswered ` +
      'at the end counts until then), the longest gap of a 1 ms timer in the server, its peak RSS (VmHWM), and from /metrics ' +
      `${DEFERRED_FRAMES} (frames from clients held back because a tick had queued its budget of deliveries) and ` +
      `${SLOW_CONSUMERS}. What a closed member's socket held (writableLength) comes from rooms' own log call as it closes it. ` +
      'Deliveries per second are counted at the readers over the window. A paused loopback socket takes about 4 MB in the ' +
      'kernel before anything stays in the server, so those not reading are closed only some seconds in. Readers closed: ' +
      'readers whose connection closed, for any reason. rooms only: the peers have no maxBufferedBytes, close no member as ' +
      'too slow, and serve no /healthz or /metrics.',
    servers: ['rooms'],
    settings: { maxBufferedBytes },
    figures: [
      { metric: 'capacity', label: `overload ${shape}: delivered under flow control`, unit: 'deliveries/s', better: 'higher' },
      { metric: 'rate', label: `overload: delivered, offered ${OFFERED}× that`, unit: 'deliveries/s', better: 'higher' },
      { metric: 'slowClosed', label: `overload: closed as too slow (${SLOW_CONSUMERS}), ${notReading} not reading`, unit: 'members', better: 'higher' },
      { metric: 'readersClosed', label: 'overload: readers closed', unit: 'members', better: 'lower' },
      { metric: 'maxBuffered', label: 'overload: most a too-slow member held at its close', unit: 'bytes', better: 'lower' },
      { metric: 'healthP99', label: 'overload: GET /healthz p99', unit: 'ms', better: 'lower' },
      { metric: 'healthMax', label: 'overload: GET /healthz max', unit: 'ms', better: 'lower' },
      { metric: 'stall', label: 'overload: longest event-loop stall', unit: 'ms', better: 'lower' },
      { metric: 'rssPeak', label: 'overload: server peak RSS', unit: 'MB', better: 'lower' },
      { metric: 'lost', label: 'overload: messages readers missed or got out of order', unit: 'messages', better: 'lower' },
      { metric: 'deferred', label: `overload: frames deferred (${DEFERRED_FRAMES})`, unit: 'frames', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const problems: string[] = [];
      const { publisher, receivers, all } = await ctx.fleet.workers();
      // Those that never read are there from the start: the kernel takes some MB for each before
      // anything stays in rooms, and the flow-controlled phase fills some of that.
      const silent = members(CHANNEL, notReading, () => 0, false, readers);
      const reading = split(members(CHANNEL, readers - 1, () => 0, false, 1), receivers.length);
      const stalled = split(silent, receivers.length);
      await connectAll(ctx, server, [
        { worker: publisher, members: members(CHANNEL, 1, () => 0, true), kind: 'ws', messageLength },
        ...reading.map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })),
        ...stalled.map((block, i) => ({ worker: receivers[i], members: block, kind: 'minimal' as const, stalled: true })),
      ], 1);
      const capacity = async (): Promise<Window> => {
        await sleep(capacityWarmupMs);
        const start = await snapshot(server, all, false, false);
        await sleep(capacityMs);
        return windowOf(start, await snapshot(server, all, false, false));
      };
      const endCredit = await startCredit(publisher, all, credit);
      const measured = await capacity().finally(endCredit);
      const flowed = await stopPublishing([publisher]);
      const caughtUp = await settle(all, flowed, ctx.sizes.drainTimeoutMs);
      if (caughtUp.missing + caughtUp.duplicates + caughtUp.unexpected + caughtUp.closed > 0) {
        problems.push(`under flow control: ${caughtUp.missing} lost, ${caughtUp.duplicates} duplicated, ${caughtUp.closed} readers closed`);
      }
      // Deliveries per message counted at the clients: every reader, the publisher too if the server echoes to it.
      const received = (await snapshot(server, all, false, false)).marks.reduce((sum, mark) => sum + mark.received, 0);
      const recipients = received / Math.max(1, totalSent(flowed));
      const offeredPerSecond = (OFFERED * measured.perSecond) / recipients;

      const probe = await HealthProbe.start();
      try {
        const deferredBefore = (await counters(server.port, [DEFERRED_FRAMES])).get(DEFERRED_FRAMES) ?? 0;
        const peakFromWindow = server.resetPeakRss();
        await server.rpc.call('stallStart', null);
        await probe.rpc.call('start', { port: server.port, intervalMs: HEALTH_EVERY_MS });
        const windowStart = nowMs();
        const before = await snapshot(server, all, false, false);
        await publisher.call('rate', { perMemberHz: offeredPerSecond });
        await sleep(windowMs);
        const after = await snapshot(server, all, false, false);
        const windowEnd = nowMs();
        const sent = await stopPublishing([publisher]);
        // The backlog the window left is delivered at full speed: the probes run on until it is.
        const verdict = await settle(all, sent, ctx.sizes.drainTimeoutMs + OFFERED * windowMs);
        const drainMs = nowMs() - windowEnd;
        const [health, stall] = await Promise.all([probe.rpc.call('stop', null), server.rpc.call('stallStop', null)]);
        const peakRss = server.peakRss();
        const [metrics, slow] = await Promise.all([counters(server.port, [SLOW_CONSUMERS, DEFERRED_FRAMES]), server.rpc.call('slowCloses', null)]);
        const window = windowOf(before, after);

        const silentNames = new Set(silent.map((member) => member.user));
        const closedSilent = new Set(slow.closes.filter((close) => silentNames.has(close.user)).map((close) => close.user));
        const slowClosed = metrics.get(SLOW_CONSUMERS) ?? 0;
        if (slow.closes.length !== slowClosed) {
          problems.push(`${SLOW_CONSUMERS} is ${slowClosed} but rooms logged ${slow.closes.length} too-slow closes (did its log line change? see bench/servers/rooms.ts)`);
        }
        if (verdict.unexpected > 0) problems.push(`${verdict.unexpected} unexpected messages`);
        const answered = health.samples.map((sample) => sample.ms);
        const inWindow = health.samples.filter((sample) => sample.at < windowEnd).map((sample) => sample.ms);
        const healthP99 = percentile(answered, 99);
        const healthMax = percentile(answered, 100);
        if (healthP99 === null || healthMax === null) problems.push('no /healthz samples');
        const buffered = slow.closes.map((close) => close.buffered);
        const closedAt = slow.closes.map((close) => close.at - windowStart);

        const values: Record<string, number> = {
          capacity: measured.perSecond,
          rate: window.perSecond,
          slowClosed,
          readersClosed: verdict.closed,
          stall: stall.longestMs,
          lost: verdict.missing + verdict.duplicates,
          deferred: (metrics.get(DEFERRED_FRAMES) ?? 0) - deferredBefore,
        };
        if (slow.closes.length > 0) values.maxBuffered = Math.max(...buffered);
        if (healthP99 !== null && healthMax !== null) Object.assign(values, { healthP99, healthMax });
        if (peakRss !== null) values.rssPeak = peakRss / MB;
        return {
          values,
          info: {
            members: memberCount,
            notReading,
            readers: verdict.clients,
            recipientsPerMessage: recipients,
            capacityMessagesPerSecond: measured.perSecond / recipients,
            offeredMessagesPerSecond: offeredPerSecond,
            offeredDeliveriesPerSecond: offeredPerSecond * recipients,
            cpuUsPerDelivery: window.cpuUsPerDelivery,
            frameBytes: window.frameBytes,
            maxBufferedBytes: slow.maxBufferedBytes,
            bufferedOverCap: Math.max(...buffered) - slow.maxBufferedBytes,
            minBuffered: Math.min(...buffered),
            notReadingClosed: closedSilent.size,
            readersClosedAsTooSlow: slow.closes.filter((close) => !silentNames.has(close.user)).length,
            closedBeforeWindow: closedAt.filter((at) => at < 0).length,
            deferredUnderFlowControl: deferredBefore,
            firstCloseAfterMs: Math.min(...closedAt),
            lastCloseAfterMs: Math.max(...closedAt),
            missing: verdict.missing,
            outOfOrder: verdict.duplicates,
            healthSamples: answered.length,
            healthFailed: health.failed,
            healthP99InWindow: percentile(inWindow, 99) ?? Number.NaN,
            healthMaxInWindow: percentile(inWindow, 100) ?? Number.NaN,
            stallsOver50: stall.over50,
            rssPeakFromWindow: peakFromWindow ? 1 : 0,
            drainMs,
            sentUnderFlowControl: totalSent(flowed),
            sentInWindow: totalSent(sent) - totalSent(flowed),
          },
          problems,
        };
      } finally {
        await probe.close();
      }
    },
  };
}
