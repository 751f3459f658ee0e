// Runs one benchmark server in its own process (node, or bun for the Bun peer): reports its port
// to run.ts over IPC and answers requests for CPU and memory figures, the stall probe, the
// reaping scenario, and the members closed as too slow (rooms only).
import { writeFileSync } from 'node:fs';
import type { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import type { Drained, ReapResult, ServerApi, ServerEvents, SlowCloses } from '../lib/api.js';
import { nowMs } from '../lib/marker.js';
import { emitEvent, serveRpc } from '../lib/rpc.js';
import { StallProbe } from './stall-probe.js';

export interface BenchServer {
  port: number;
  /** Open WebSocket connections. */
  connections(): number;
  /** Creates `count` channels with no connections (scenario f). */
  createEmptyChannels(count: number): void;
  /** Removes the empty channels the way this server does; resolves with how many it removed. */
  reapEmptyChannels(): Promise<number> | number;
  /** The members closed as too slow so far; only rooms has a cap to close them at. */
  slowCloses?(): SlowCloses;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function collectNodeGarbage(): void {
  // --expose-gc is on for every node server child; twice so that finalizers' garbage goes too.
  globalThis.gc?.();
  globalThis.gc?.();
}

async function measureReap(server: BenchServer, channels: number, collectGarbage: () => void): Promise<ReapResult> {
  const created = performance.now();
  server.createEmptyChannels(channels);
  const createMs = performance.now() - created;
  collectGarbage();
  await sleep(20);
  const probe = new StallProbe();
  await sleep(5);
  const started = performance.now();
  const removed = await server.reapEmptyChannels();
  const reapMs = performance.now() - started;
  await sleep(5);
  return { channels, removed, createMs, reapMs, maxStallMs: probe.stop().longestMs };
}

/** Polls every millisecond (so a stalled loop answers late, not early) until no connection is left. */
async function drained(server: BenchServer, timeoutMs: number): Promise<Drained> {
  const deadline = performance.now() + timeoutMs;
  while (server.connections() > 0 && performance.now() < deadline) await sleep(1);
  return { at: nowMs(), connections: server.connections() };
}

/** Starts the server `start` makes and serves run.ts; `collectGarbage` forces a full collection in this runtime. */
export async function host(start: () => Promise<BenchServer>, collectGarbage: () => void = collectNodeGarbage): Promise<void> {
  const server = await start();
  let probe: StallProbe | null = null;
  let profiler: Session | null = null;
  serveRpc<ServerApi>({
    stats: ({ gc }) => {
      if (gc) collectGarbage();
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0;
      return { cpuUs: cpu.user + cpu.system, rss: memory.rss, young, heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers };
    },
    profileStart: async () => {
      if (profiler !== null) throw new Error('a CPU profile is running already');
      // Imported here: Bun, which runs this file for its peer, has no node:inspector.
      const { Session } = await import('node:inspector/promises');
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      profiler = session;
      return null;
    },
    profileStop: async ({ file }) => {
      if (profiler === null) throw new Error('no CPU profile running');
      const session = profiler;
      profiler = null;
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      writeFileSync(file, JSON.stringify(profile));
      return null;
    },
    heapSnapshot: ({ file }) => {
      writeHeapSnapshot(file);
      return null;
    },
    reap: ({ channels }) => measureReap(server, channels, collectGarbage),
    stallStart: () => {
      probe?.stop();
      probe = new StallProbe();
      return null;
    },
    stallStop: () => {
      if (probe === null) throw new Error('no stall probe running');
      const stall = probe.stop();
      probe = null;
      return stall;
    },
    drained: ({ timeoutMs }) => drained(server, timeoutMs),
    slowCloses: () => {
      if (server.slowCloses === undefined) throw new Error('this server closes no member as too slow');
      return server.slowCloses();
    },
    shutdown: () => process.exit(0),
  });
  emitEvent<ServerEvents, 'listening'>('listening', { port: server.port });
}
