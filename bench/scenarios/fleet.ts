// The processes of a benchmark: client workers (kept for the whole invocation: one publisher,
// several receivers), one fresh server process per measurement (or several nodes on a fresh
// Redis), and the /healthz prober of (h).
import type { ChildProcess } from 'node:child_process';
import {
  protoOf,
  type HealthApi,
  type HealthEvents,
  type Proto,
  type RedisTopology,
  type ServerApi,
  type ServerEvents,
  type ServerName,
  type ServerSettings,
  type WorkerApi,
  type WorkerEvents,
} from '../lib/api.js';
import { BUN, reap, spawnBun, spawnTs } from '../lib/children.js';
import { procCpuUs, procPeakRss, resetPeakRss } from '../lib/proc-cpu.js';
import { RedisDeployment } from '../lib/redis-server.js';
import { RpcClient } from '../lib/rpc.js';

export type Worker = RpcClient<WorkerApi, WorkerEvents>;

/** Raised when a server does not come up: run.ts stops the whole benchmark. */
export class ServerStartError extends Error {}

export class ServerHandle {
  readonly proto: Proto;

  constructor(
    readonly name: ServerName,
    readonly port: number,
    readonly rpc: RpcClient<ServerApi, ServerEvents>,
    private readonly child: ChildProcess,
  ) {
    this.proto = protoOf(name);
  }

  /** The server's CPU time (user + system) so far, microseconds: from /proc where there is one, else over IPC. */
  async cpuUs(): Promise<number> {
    const fromProc = this.child.pid === undefined ? null : procCpuUs(this.child.pid);
    return fromProc ?? (await this.rpc.call('stats', { gc: false })).cpuUs;
  }

  /** The server's peak RSS since it started or since the last resetPeakRss, bytes, from /proc; null without /proc. */
  peakRss(): number | null {
    return this.child.pid === undefined ? null : procPeakRss(this.child.pid);
  }

  /** Makes peakRss count from now on; false where /proc cannot do that (peakRss then counts from the start). */
  resetPeakRss(): boolean {
    return this.child.pid !== undefined && resetPeakRss(this.child.pid);
  }

  /** Ends the server process first, so that closing sockets leave TIME_WAIT on the server's side. */
  async stop(): Promise<void> {
    this.rpc.notify('shutdown', null);
    await reap(this.child);
  }
}

/** A server run as several node processes, each a server of its own, on one Redis deployment. */
export class NodeSet {
  readonly proto: Proto;

  constructor(
    readonly name: ServerName,
    readonly nodes: readonly ServerHandle[],
    readonly redis: RedisDeployment,
  ) {
    this.proto = protoOf(name);
  }

  /** Every node's CPU time (user + system) so far, summed, microseconds. */
  async cpuUs(): Promise<number> {
    const each = await Promise.all(this.nodes.map((node) => node.cpuUs()));
    return each.reduce((sum, us) => sum + us, 0);
  }

  /** Redis's CPU time (every redis-server of the deployment) so far, microseconds. */
  redisCpuUs(): number {
    return this.redis.cpuUs();
  }

  /** Stops the nodes, then Redis. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await this.redis.stop();
  }
}

const READY_MS = 30_000;

/** The process that times GET /healthz while (h) overloads a server; started for one measurement. */
export class HealthProbe {
  private constructor(readonly rpc: RpcClient<HealthApi, HealthEvents>) {}

  static async start(): Promise<HealthProbe> {
    const rpc = new RpcClient<HealthApi, HealthEvents>(spawnTs('bench/clients/health-probe.ts'), 'health probe');
    await rpc.next('ready', READY_MS);
    return new HealthProbe(rpc);
  }

  async close(): Promise<void> {
    if (this.rpc.child.connected) this.rpc.child.disconnect();
    await reap(this.rpc.child);
  }
}

export class Fleet {
  private publisher: Worker | null = null;
  private receivers: Worker[] = [];
  private spawned = 0;

  constructor(private readonly receiverCount: number) {}

  /** The workers, respawning any that died in an earlier measurement. */
  async workers(): Promise<{ publisher: Worker; receivers: Worker[]; all: Worker[] }> {
    const reuse = (worker: Worker | null | undefined): Worker | Promise<Worker> =>
      worker !== null && worker !== undefined && worker.alive ? worker : this.spawnWorker();
    const all = await Promise.all([
      reuse(this.publisher),
      ...Array.from({ length: this.receiverCount }, (_, i) => reuse(this.receivers[i])),
    ]);
    const [publisher, ...receivers] = all;
    this.publisher = publisher!;
    this.receivers = receivers;
    return { publisher: this.publisher, receivers, all };
  }

  /** Closes every client socket of every worker. */
  async resetWorkers(): Promise<void> {
    const live = [this.publisher, ...this.receivers].filter((w): w is Worker => w !== null && w.alive);
    await Promise.all(live.map((worker) => worker.call('reset', null, 30_000)));
  }

  /** Starts `name` in a fresh process: node for every server but the Bun peer, which the bun binary runs. */
  async startServer(name: ServerName, settings: ServerSettings = {}): Promise<ServerHandle> {
    const file = `bench/servers/${name}.ts`;
    const args = [JSON.stringify(settings)];
    const child = name === 'bun' ? spawnBun(file, args) : spawnTs(file, args);
    const rpc = new RpcClient<ServerApi, ServerEvents>(child, `server ${name}`);
    // A binary that cannot be run (no bun installed) is an 'error' event, not an exit.
    let onError: (error: Error) => void = () => undefined;
    const spawnFailed = new Promise<never>((_, reject) => {
      onError = (error) => reject(new Error(name === 'bun' ? `${error.message} (${BUN}: is bun installed? npm ci without --ignore-scripts)` : error.message));
      child.once('error', onError);
    });
    try {
      const { port } = await Promise.race([rpc.next('listening', READY_MS), spawnFailed]).finally(() => child.off('error', onError));
      return new ServerHandle(name, port, rpc, child);
    } catch (error) {
      child.kill('SIGKILL');
      throw new ServerStartError(`server ${name} failed to start: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Starts a fresh Redis of `topology`, then `count` nodes of `name` on it, all at once. */
  async startNodes(name: ServerName, topology: RedisTopology, count: number, settings: ServerSettings = {}): Promise<NodeSet> {
    let redis: RedisDeployment;
    try {
      redis = await RedisDeployment.start(topology);
    } catch (error) {
      throw new ServerStartError(`redis (${topology}) failed to start: ${error instanceof Error ? error.message : String(error)}`);
    }
    const started = await Promise.allSettled(Array.from({ length: count }, () => this.startServer(name, { ...settings, redis: redis.target })));
    const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed === undefined) return new NodeSet(name, nodes, redis);
    await new NodeSet(name, nodes, redis).stop();
    throw failed.reason;
  }

  async close(): Promise<void> {
    const workers = [this.publisher, ...this.receivers].filter((w): w is Worker => w !== null);
    for (const worker of workers) if (worker.child.connected) worker.child.disconnect();
    await Promise.all(workers.map((worker) => reap(worker.child)));
    this.publisher = null;
    this.receivers = [];
  }

  private async spawnWorker(): Promise<Worker> {
    const worker: Worker = new RpcClient(spawnTs('bench/clients/worker.ts'), `worker ${++this.spawned}`);
    await worker.next('ready', READY_MS);
    return worker;
  }
}
