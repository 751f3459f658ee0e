// Steps every client-driven scenario shares: spreading members over workers, connecting them,
// the flood's flow control, taking marks at the clients and the server, and checking that nothing
// was lost or duplicated.
import { join } from 'node:path';
import type { ClientKind, ConnectResult, Mark, MemberSpec, SentCount, Verdict } from '../lib/api.js';
import { localAddresses } from '../lib/addresses.js';
import { nowMs } from '../lib/marker.js';
import type { Sizes } from '../lib/sizes.js';
import { mergeLatency, type Latency } from '../lib/stats.js';
import type { Fleet, ServerHandle, Worker } from './fleet.js';

export interface Context {
  fleet: Fleet;
  sizes: Sizes;
  /** The receiving clients' kind; publishers in (a) and (b) are always real clients. */
  kind: ClientKind;
  /** Where (d) writes the servers' heap snapshots; '' for none. */
  heapSnapshots: string;
  /** Where (a) and (g) write CPU profiles of their servers' measurement windows; '' for none. */
  cpuProfiles: string;
}

/** What one measurement of one server produced. */
export interface Outcome {
  /** Figures, by the metric names of the measurement's FigureSpecs. */
  values: Record<string, number>;
  /** Further raw numbers kept in results.json. */
  info: Record<string, number>;
  /** Lost or duplicated messages, failed connections: any entry fails the benchmark. */
  problems: string[];
}

const CONNECT_TIMEOUT_MS = 180_000;

/** Splits `items` into `parts` contiguous blocks of near-equal size (members of a channel stay together). */
export function split<T>(items: readonly T[], parts: number): T[][] {
  const size = Math.ceil(items.length / parts);
  return Array.from({ length: parts }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** `count` members of `channel` named u<from>, u<from+1>, ...; `slotOf` gives each one's publisher slot. */
export function members(channel: string, count: number, slotOf: (i: number) => number, publishes: boolean, from = 0): MemberSpec[] {
  return Array.from({ length: count }, (_, i) => ({ channel, user: `u${from + i}`, slot: slotOf(i), publishes }));
}

export interface ConnectPlan {
  worker: Worker;
  members: MemberSpec[];
  kind: ClientKind;
  /** Members that stop reading once authenticated (minimal clients only); default false. */
  stalled?: boolean;
  /** The length of what its publishers send; default the sizes' messageLength. */
  messageLength?: number;
}

/** Connects every plan's members; throws if any connection or authentication failed. */
export async function connectAll(
  ctx: Context,
  server: ServerHandle,
  plans: readonly ConnectPlan[],
  slots: number,
  inFlight = 64,
): Promise<ConnectResult[]> {
  const results = await Promise.all(
    plans
      .filter((plan) => plan.members.length > 0)
      .map((plan) =>
        plan.worker.call(
          'connect',
          {
            port: server.port,
            proto: server.proto,
            kind: plan.kind,
            members: plan.members,
            slots,
            localAddresses: localAddresses(plan.members.length),
            concurrency: inFlight,
            messageLength: plan.messageLength ?? ctx.sizes.messageLength,
            stalled: plan.stalled ?? false,
          },
          CONNECT_TIMEOUT_MS,
        ),
      ),
  );
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  if (failed > 0) {
    const first = results.find((r) => r.firstError !== null)?.firstError ?? 'unknown error';
    throw new Error(`${failed} of ${failed + results.reduce((s, r) => s + r.connected, 0)} connections failed (${first})`);
  }
  return results;
}

/** One channel of `memberCount`: its publishing member u0 (slot 0) and the others, receiving only. */
export function channelMembers(channel: string, memberCount: number): { publishing: MemberSpec[]; receiving: MemberSpec[] } {
  return { publishing: members(channel, 1, () => 0, true), receiving: members(channel, memberCount - 1, () => 0, false, 1) };
}

/**
 * One channel of `memberCount`: a publishing real client (slot 0) in the publisher worker,
 * the other members, receiving only, spread over the receiving workers.
 */
export async function connectOneChannel(
  ctx: Context,
  server: ServerHandle,
  channel: string,
  memberCount: number,
): Promise<{ publisher: Worker; all: Worker[] }> {
  const { publisher, receivers, all } = await ctx.fleet.workers();
  const { publishing, receiving } = channelMembers(channel, memberCount);
  await connectAll(ctx, server, [
    { worker: publisher, members: publishing, kind: 'ws' },
    ...split(receiving, receivers.length).map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })),
  ], 1);
  return { publisher, all };
}

/** How often workers report their slowest receiver's progress under flow control. */
export const PROGRESS_MS = 5;

/**
 * The flood's flow control: `publisher`, which has sent nothing yet, sends as fast as it may
 * while at most `ahead` messages ahead of the slowest receiver of `workers`, whose progress they
 * report every PROGRESS_MS. Resolves once publishing has begun, with the function that ends the
 * flow control (the publisher stops when its credit runs out; `stopPublishing` makes that final).
 */
export async function startCredit(publisher: Worker, workers: readonly Worker[], ahead: number): Promise<() => void> {
  const slowest = new Map<Worker, number>(workers.map((worker) => [worker, 0]));
  let credit = ahead;
  for (const worker of workers) {
    worker.on('progress', ({ minSeen }) => {
      slowest.set(worker, minSeen);
      const next = Math.min(...slowest.values()) + ahead;
      if (next > credit) {
        credit = next;
        publisher.notify('credit', { credit });
      }
    });
  }
  await Promise.all(workers.map((worker) => worker.call('watch', { intervalMs: PROGRESS_MS })));
  publisher.notify('credit', { credit });
  return () => {
    for (const worker of workers) {
      worker.off('progress');
      worker.notify('watch', { intervalMs: 0 });
    }
  };
}

/** Runs `work`; with --cpu-profiles, under a CPU profile of the server written as `<server>-<name>.cpuprofile`. */
export async function profiled<T>(ctx: Context, server: ServerHandle, name: string, work: () => Promise<T>): Promise<T> {
  if (ctx.cpuProfiles === '') return work();
  await server.rpc.call('profileStart', null);
  const result = await work();
  await server.rpc.call('profileStop', { file: join(ctx.cpuProfiles, `${server.name}-${name}.cpuprofile`) });
  return result;
}

/** What a window reads of the server measured: one process, or every node of a server on Redis. */
export interface Meter {
  /** The server's CPU time (user + system) so far, every node's summed, microseconds. */
  cpuUs(): Promise<number>;
  /** Redis's CPU time so far, microseconds: only a server of several nodes has a Redis. */
  redisCpuUs?(): number;
}

export interface Snapshot {
  /** When it was taken, wall-clock ms (performance.timeOrigin + now). */
  at: number;
  serverCpuUs: number;
  /** 0 for a server without Redis. */
  redisCpuUs: number;
  marks: Mark[];
}

/** Marks every worker and reads the server's counters (and its Redis's) at (nearly) the same moment. */
export async function snapshot(server: Meter, workers: readonly Worker[], resetHistogram: boolean, takeHistogram: boolean): Promise<Snapshot> {
  const [serverCpuUs, marks] = await Promise.all([
    server.cpuUs(),
    Promise.all(workers.map((worker) => worker.call('mark', { resetHistogram, takeHistogram }))),
  ]);
  return { at: nowMs(), serverCpuUs, redisCpuUs: server.redisCpuUs?.() ?? 0, marks };
}

export interface Window {
  /** From the first snapshot to the second, as the harness saw it. */
  seconds: number;
  delivered: number;
  /** Deliveries per second: each worker's count over its own clock, summed. */
  perSecond: number;
  /** Server CPU (user + system) per delivery, microseconds. */
  cpuUsPerDelivery: number;
  /** Mean bytes per delivered frame on the wire (0 when the client kind cannot see frames). */
  frameBytes: number;
  /** Redis's CPU over the window, microseconds (0 without Redis). */
  redisCpuUs: number;
}

export function windowOf(before: Snapshot, after: Snapshot): Window {
  let delivered = 0;
  let perSecond = 0;
  let bytes = 0;
  before.marks.forEach((start, i) => {
    const end = after.marks[i];
    const count = end.received - start.received;
    delivered += count;
    bytes += end.frameBytes - start.frameBytes;
    if (end.at > start.at) perSecond += (count * 1000) / (end.at - start.at);
  });
  const cpu = after.serverCpuUs - before.serverCpuUs;
  return {
    seconds: (after.at - before.at) / 1000,
    delivered,
    perSecond,
    cpuUsPerDelivery: delivered > 0 ? cpu / delivered : Number.NaN,
    frameBytes: delivered > 0 ? bytes / delivered : 0,
    redisCpuUs: after.redisCpuUs - before.redisCpuUs,
  };
}

/** A window's snapshots at its start and its end. */
export interface Span {
  before: Snapshot;
  after: Snapshot;
}

/** What a window of publishing measured, and whether every receiver then got every message once and in order. */
export interface Measured {
  window: Window;
  sent: SentCount[];
  problems: string[];
}

export interface CreditPlan {
  /** The worker whose publishing members send (it has sent nothing yet). */
  publisher: Worker;
  /** Every worker with receivers: the slowest of them sets the credit. */
  workers: readonly Worker[];
  ahead: number;
  warmupMs: number;
  windowMs: number;
}

/**
 * The flood: publishing under startCredit's flow control, a window of `windowMs` after
 * `warmupMs` (run through `around`, which may profile it), then publishing stops and the
 * receivers must catch up with everything sent.
 */
export async function underCredit(ctx: Context, server: Meter, plan: CreditPlan, around = (work: () => Promise<Span>): Promise<Span> => work()): Promise<Measured> {
  const { publisher, workers, ahead, warmupMs, windowMs } = plan;
  const endCredit = await startCredit(publisher, workers, ahead);
  try {
    await sleep(warmupMs);
    const { before, after } = await around(async () => {
      const start = await snapshot(server, workers, false, false);
      await sleep(windowMs);
      return { before: start, after: await snapshot(server, workers, false, false) };
    });
    const sent = await stopPublishing([publisher]);
    return { window: windowOf(before, after), sent, problems: await verify(ctx, workers, sent) };
  } finally {
    endCredit();
  }
}

export interface RatePlan {
  /** The workers whose publishing members send, each at `perMemberHz`. */
  publishers: readonly Worker[];
  /** Every worker with receivers. */
  workers: readonly Worker[];
  perMemberHz: number;
  warmupMs: number;
  windowMs: number;
}

/**
 * Publishing at a fixed rate: deliveries and their latency over `windowMs` after `warmupMs`, then
 * publishing stops and the receivers must catch up with everything sent.
 */
export async function atRate(ctx: Context, server: Meter, plan: RatePlan): Promise<Measured & { latencies: Latency | null }> {
  const { publishers, workers, perMemberHz, warmupMs, windowMs } = plan;
  await Promise.all(publishers.map((worker) => worker.call('rate', { perMemberHz })));
  await sleep(warmupMs);
  const before = await snapshot(server, workers, true, false);
  await sleep(windowMs);
  const after = await snapshot(server, workers, false, true);
  const sent = await stopPublishing(publishers);
  const problems = await verify(ctx, workers, sent);
  const latencies = mergeLatency(after.marks.map((mark) => mark.histogram));
  if (latencies === null) problems.push('no latency samples');
  return { window: windowOf(before, after), sent, problems, latencies };
}

/** Stops every publisher and returns what each sent. */
export async function stopPublishing(workers: readonly Worker[]): Promise<SentCount[]> {
  const sent = await Promise.all(workers.map((worker) => worker.call('stop', null)));
  return sent.flat();
}

/** Waits up to `timeoutMs` for the receivers to catch up with `sent`, then sums what they got against it. */
export async function settle(workers: readonly Worker[], sent: SentCount[], timeoutMs: number): Promise<Verdict> {
  const verdicts = await Promise.all(workers.map((worker) => worker.call('verify', { sent, timeoutMs }, timeoutMs + 30_000)));
  return verdicts.reduce<Verdict>(
    (sum, v) => ({
      clients: sum.clients + v.clients,
      missing: sum.missing + v.missing,
      duplicates: sum.duplicates + v.duplicates,
      unexpected: sum.unexpected + v.unexpected,
      closed: sum.closed + v.closed,
    }),
    { clients: 0, missing: 0, duplicates: 0, unexpected: 0, closed: 0 },
  );
}

/** Waits for receivers to catch up, then lists lost, duplicated or unexpected messages as problems. */
export async function verify(ctx: Context, workers: readonly Worker[], sent: SentCount[]): Promise<string[]> {
  const total = await settle(workers, sent, ctx.sizes.drainTimeoutMs);
  const problems: string[] = [];
  if (total.missing > 0) problems.push(`${total.missing} messages lost`);
  if (total.duplicates > 0) problems.push(`${total.duplicates} messages duplicated or out of order`);
  if (total.unexpected > 0) problems.push(`${total.unexpected} unexpected messages`);
  if (total.closed > 0) problems.push(`${total.closed} of ${total.clients} connections closed early`);
  return problems;
}

export function totalSent(sent: readonly SentCount[]): number {
  return sent.reduce((sum, s) => sum + s.sent, 0);
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
