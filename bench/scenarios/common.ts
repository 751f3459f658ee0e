// Steps every client-driven scenario shares: spreading members over workers, connecting them,
// the flood's flow control, taking marks at the clients and the server, and checking that nothing
// was lost or duplicated.
import { join } from 'node:path';
import type { ClientKind, ConnectResult, Mark, MemberSpec, SentCount, Verdict } from '../lib/api.js';
import { localAddresses } from '../lib/addresses.js';
import type { Sizes } from '../lib/sizes.js';
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
  const receiving = split(members(channel, memberCount - 1, () => 0, false, 1), receivers.length);
  await connectAll(ctx, server, [
    { worker: publisher, members: members(channel, 1, () => 0, true), kind: 'ws' },
    ...receiving.map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })),
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

export interface Snapshot {
  serverCpuUs: number;
  marks: Mark[];
}

/** Marks every worker and reads the server's counters at (nearly) the same moment. */
export async function snapshot(server: ServerHandle, workers: readonly Worker[], resetHistogram: boolean, takeHistogram: boolean): Promise<Snapshot> {
  const [serverCpuUs, marks] = await Promise.all([
    server.cpuUs(),
    Promise.all(workers.map((worker) => worker.call('mark', { resetHistogram, takeHistogram }))),
  ]);
  return { serverCpuUs, marks };
}

export interface Window {
  delivered: number;
  /** Deliveries per second: each worker's count over its own clock, summed. */
  perSecond: number;
  /** Server CPU (user + system) per delivery, microseconds. */
  cpuUsPerDelivery: number;
  /** Mean bytes per delivered frame on the wire (0 when the client kind cannot see frames). */
  frameBytes: number;
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
    delivered,
    perSecond,
    cpuUsPerDelivery: delivered > 0 ? cpu / delivered : Number.NaN,
    frameBytes: delivered > 0 ? bytes / delivered : 0,
  };
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
