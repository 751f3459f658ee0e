// A load-generator process: run.ts starts several, each holding at most ~15,000 sockets bound to
// its own 127.0.0.x source addresses, and drives them over IPC.
import type { BenchClient, Target } from './client.js';
import type { ConnectParams, ConnectResult, SentCount, Verdict, WorkerApi, WorkerEvents } from '../lib/api.js';
import { emitEvent, serveRpc } from '../lib/rpc.js';
import { nowMs } from '../lib/marker.js';
import { MinimalClient } from './minimal.js';
import { WsClient } from './ws-client.js';
import { SioClient } from './sio-client.js';
import { Publisher, publishUpTo, RateSchedule } from './publishers.js';
import { caughtUp, judge, Streams, Tally, type SentTable } from './tally.js';

const MAX_SOCKETS = 15_000;

let clients: BenchClient[] = [];
/** Clients that stopped reading once authenticated: outside `clients`, so no progress report, wait or verdict counts them. */
let stalled: BenchClient[] = [];
let publishers: Publisher[] = [];
let schedule: RateSchedule | null = null;
let watcher: NodeJS.Timeout | null = null;
/** Set by `stop`: credit that was already on its way is ignored, so the reported counts stay final. */
let halted = false;
const tally = new Tally();

function createClient(params: ConnectParams, index: number): BenchClient {
  const member = params.members[index];
  const target: Target = {
    port: params.port,
    proto: params.proto,
    localAddress: params.localAddresses[index % params.localAddresses.length],
  };
  const streams = new Streams(params.slots);
  if (params.kind === 'minimal') return new MinimalClient(member, streams, target, tally, params.stalled);
  return params.proto === 'rooms' ? new WsClient(member, streams, target, tally) : new SioClient(member, streams, target, tally);
}

async function connect(params: ConnectParams): Promise<ConnectResult> {
  const held = clients.length + stalled.length;
  if (held + params.members.length > MAX_SOCKETS) {
    throw new Error(`a worker holds at most ${MAX_SOCKETS} sockets (asked for ${held + params.members.length})`);
  }
  if (params.stalled && params.kind !== 'minimal') throw new Error('only minimal clients stop reading');
  const fresh = params.members.map((_, index) => createClient(params, index));
  const result: ConnectResult = { connected: 0, failed: 0, firstError: null, startedAt: nowMs(), finishedAt: 0 };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < fresh.length) {
      const client = fresh[next++];
      try {
        await client.connect();
        result.connected++;
      } catch (error) {
        result.failed++;
        result.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(params.concurrency, fresh.length) }, lane));
  result.finishedAt = nowMs();
  (params.stalled ? stalled : clients).push(...fresh);
  for (const client of fresh) if (client.member.publishes) publishers.push(new Publisher(client, params.messageLength));
  return result;
}

function slowestOnSlotZero(): number {
  let min = Number.MAX_SAFE_INTEGER;
  for (const client of clients) {
    const seen = client.streams.expected[0] ?? 0;
    if (seen < min) min = seen;
  }
  return min;
}

function watch(intervalMs: number): null {
  if (watcher !== null) clearInterval(watcher);
  watcher = null;
  if (intervalMs <= 0) return null;
  let last = -1;
  watcher = setInterval(() => {
    const minSeen = slowestOnSlotZero();
    if (minSeen !== last) emitEvent<WorkerEvents, 'progress'>('progress', { minSeen });
    last = minSeen;
  }, intervalMs);
  return null;
}

function stop(): SentCount[] {
  halted = true;
  schedule?.stop();
  schedule = null;
  return publishers.map((publisher) => publisher.count());
}

function sentTable(sent: readonly SentCount[], slots: number): SentTable {
  const table: SentTable = new Map();
  for (const { channel, slot, sent: count } of sent) {
    let counts = table.get(channel);
    if (counts === undefined) table.set(channel, (counts = new Uint32Array(slots)));
    if (slot < slots) counts[slot] = count;
  }
  return table;
}

async function verify(sent: readonly SentCount[], timeoutMs: number): Promise<Verdict> {
  const slots = clients[0]?.streams.expected.length ?? 0;
  const table = sentTable(sent, slots);
  const deadline = performance.now() + timeoutMs;
  const pending = (): boolean =>
    clients.some((client) => !client.closed && !caughtUp(client.streams, table.get(client.member.channel)));
  while (pending() && performance.now() < deadline) await new Promise((done) => setTimeout(done, 10));
  return judge(
    clients.map((client) => ({ streams: client.streams, channel: client.member.channel, closed: client.closed })),
    table,
  );
}

function reset(): null {
  stop();
  watch(0);
  for (const client of [...clients, ...stalled]) client.close();
  clients = [];
  stalled = [];
  publishers = [];
  halted = false;
  tally.reset();
  return null;
}

serveRpc<WorkerApi>({
  connect,
  credit: ({ credit }) => {
    if (!halted) publishUpTo(publishers, credit);
    return null;
  },
  rate: ({ perMemberHz }) => {
    schedule?.stop();
    schedule = new RateSchedule(publishers, perMemberHz);
    return null;
  },
  stop,
  watch: ({ intervalMs }) => watch(intervalMs),
  mark: ({ resetHistogram, takeHistogram }) => tally.mark(resetHistogram, takeHistogram),
  verify: ({ sent, timeoutMs }) => verify(sent, timeoutMs),
  reset,
});
emitEvent<WorkerEvents, 'ready'>('ready', null);
