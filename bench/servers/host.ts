// Runs one benchmark server in its own process: reports its port to run.ts over IPC and answers
// requests for CPU and memory figures and for the reaping scenario.
import type { ReapResult, ServerApi, ServerEvents } from '../lib/api.js';
import { emitEvent, serveRpc } from '../lib/rpc.js';
import { StallProbe } from './stall-probe.js';

export interface BenchServer {
  port: number;
  /** Creates `count` channels with no connections (scenario f). */
  createEmptyChannels(count: number): void;
  /** Removes the empty channels the way this server does; resolves with how many it removed. */
  reapEmptyChannels(): Promise<number> | number;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function collectGarbage(): void {
  // --expose-gc is on for every server child; twice so that finalizers' garbage goes too.
  globalThis.gc?.();
  globalThis.gc?.();
}

async function measureReap(server: BenchServer, channels: number): Promise<ReapResult> {
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
  return { channels, removed, createMs, reapMs, maxStallMs: probe.stop() };
}

export async function host(start: () => Promise<BenchServer>): Promise<void> {
  const server = await start();
  serveRpc<ServerApi>({
    stats: ({ gc }) => {
      if (gc) collectGarbage();
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      return { cpuUs: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed };
    },
    reap: ({ channels }) => measureReap(server, channels),
    shutdown: () => process.exit(0),
  });
  emitEvent<ServerEvents, 'listening'>('listening', { port: server.port });
}
