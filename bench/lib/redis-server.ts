// The Redis under the scenarios of several nodes: redis-server processes of the harness's own on
// 127.0.0.1, keeping nothing on disk (a cluster node's nodes.conf aside, in a temporary folder of
// the run's own), started fresh for every run and killed after it.
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { CLUSTER_SHARDS, type RedisTarget, type RedisTopology } from './api.js';
import { reap, spawnProgram } from './children.js';
import { procThreadsCpuUs } from './proc-cpu.js';

const READY = 'Ready to accept connections';
const READY_MS = 10_000;
/** redis-cli waits for the cluster bus to join the nodes, polling once a second: seen over 10 s once, on a loaded machine. */
const CREATE_MS = 30_000;
/**
 * Ports are drawn at random below Linux's ephemeral range (32768 and up), which client sockets
 * take theirs from, and low enough that a cluster node's bus port (its port + 10000) is below it
 * too; a redis-server that finds either taken exits, and another port is tried.
 */
const PORTS = { from: 20_000, to: 22_700 };
const ATTEMPTS = 5;

/** How long a fresh cluster may take until every node says cluster_state:ok, and how often they are asked. */
const CLUSTER_OK_MS = 20_000;
const CLUSTER_POLL_MS = 20;

/** Raised when there is no redis-server (or redis-cli) to run: trying another port would not help. */
class NotInstalled extends Error {}

export class RedisDeployment {
  private constructor(
    readonly target: RedisTarget,
    private readonly servers: readonly ChildProcess[],
    /** The temporary folder of a cluster's nodes.conf files, removed once its servers are gone. */
    private readonly dir: string | null,
  ) {}

  /** Starts the redis-server processes of `topology` and resolves once they serve clients (a cluster: every slot). */
  static async start(topology: RedisTopology): Promise<RedisDeployment> {
    switch (topology) {
      case 'single': {
        const { child, port } = await startServer(tmpdir(), false);
        return new RedisDeployment({ topology, ports: [port] }, [child], null);
      }
      case 'cluster': {
        const dir = await mkdtemp(join(tmpdir(), 'rooms-bench-cluster-'));
        const started = await Promise.allSettled(Array.from({ length: CLUSTER_SHARDS }, () => startServer(dir, true)));
        const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
        const deployment = new RedisDeployment({ topology, ports: servers.map(({ port }) => port) }, servers.map(({ child }) => child), dir);
        try {
          const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
          if (failed !== undefined) throw failed.reason;
          await createCluster(deployment.target.ports);
          await clusterOk(deployment.target.ports);
          return deployment;
        } catch (error) {
          await deployment.stop();
          throw error;
        }
      }
    }
  }

  /** CPU time of its redis-server processes so far, summed, microseconds, from /proc (NaN without /proc). */
  cpuUs(): number {
    return this.servers.reduce((sum, child) => sum + ((child.pid === undefined ? null : procThreadsCpuUs(child.pid)) ?? Number.NaN), 0);
  }

  async stop(): Promise<void> {
    for (const child of this.servers) child.kill('SIGKILL');
    await Promise.all(this.servers.map((child) => reap(child)));
    if (this.dir !== null) await rm(this.dir, { recursive: true, force: true });
  }
}

/** A redis-server on a random port, its working folder `dir`; a node of a cluster, its nodes.conf there, if `cluster`. */
async function startServer(dir: string, cluster: boolean): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = randomInt(PORTS.from, PORTS.to);
    const clustered = cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`] : [];
    const child = spawnProgram('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...clustered]);
    try {
      await ready(child);
      return { child, port };
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt === ATTEMPTS || error instanceof NotInstalled) throw error;
    }
  }
}

/** Joins the empty nodes on `ports` into one cluster, the slots shared out evenly among them, as masters only. */
async function createCluster(ports: readonly number[]): Promise<void> {
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  const child = spawnProgram('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await watch(child, 'redis-cli --cluster create', CREATE_MS, (done) => {
      const onExit = (code: number | null): void => done(code === 0 ? null : new Error(`redis-cli --cluster create exited with ${String(code)}: ${output.trim().slice(-300)}`));
      child.once('exit', onExit);
      return () => child.off('exit', onExit);
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** Resolves once every node on `ports` says cluster_state:ok (the cluster bus tells no client when it is whole). */
async function clusterOk(ports: readonly number[]): Promise<void> {
  const clients = ports.map((port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null }));
  // A node that fails rejects the command sent to it: that is the error reported.
  for (const client of clients) client.on('error', () => undefined);
  try {
    const deadline = performance.now() + CLUSTER_OK_MS;
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO').then(String)));
      if (infos.every((info) => info.includes('cluster_state:ok'))) return;
      if (performance.now() > deadline) throw new Error(`the cluster was not whole within ${CLUSTER_OK_MS} ms: ${infos.map((info) => info.split('\r\n')[0]).join(', ')}`);
      await sleep(CLUSTER_POLL_MS);
    }
  } finally {
    for (const client of clients) client.disconnect();
  }
}

/** Resolves once `child` printed that it accepts connections; its output is drained from then on. */
function ready(child: ChildProcess): Promise<void> {
  const stdout = child.stdout!;
  let output = '';
  return watch(child, 'redis-server', READY_MS, (done) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(READY)) done(null);
    };
    const onExit = (code: number | null): void => done(new Error(`redis-server exited with ${String(code)}: ${output.trim().slice(-300)}`));
    stdout.on('data', onData);
    child.once('exit', onExit);
    return () => {
      stdout.off('data', onData);
      child.off('exit', onExit);
      stdout.resume();
    };
  });
}

/**
 * Waits for `until` to report (null: done, else the error) within `ms`, `name` failing to start
 * meanwhile (not installed: {@link NotInstalled}); `until` sets up its listeners and returns what
 * removes them.
 */
function watch(child: ChildProcess, name: string, ms: number, until: (done: (error: Error | null) => void) => () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error: Error | null): void => {
      clearTimeout(timer);
      child.off('error', onError);
      undo();
      if (error === null) resolve();
      else reject(error);
    };
    const onError = (error: NodeJS.ErrnoException): void =>
      done(error.code === 'ENOENT' ? new NotInstalled(`${name} is not installed (Debian: apt-get install -y redis-server)`) : error);
    const timer = setTimeout(() => done(new Error(`${name} took longer than ${ms} ms`)), ms);
    child.once('error', onError);
    const undo = until(done);
  });
}
