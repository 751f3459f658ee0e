// The Redis under the scenarios of several nodes: redis-server processes of the harness's own on
// 127.0.0.1, keeping nothing on disk, started fresh for every run and killed after it.
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { RedisTarget, RedisTopology } from './api.js';
import { reap, spawnProgram } from './children.js';
import { procThreadsCpuUs } from './proc-cpu.js';

const READY = 'Ready to accept connections';
const READY_MS = 10_000;
/**
 * Ports are drawn at random below Linux's ephemeral range (32768 and up), which client sockets
 * take theirs from; a redis-server that finds its port taken exits, and another port is tried.
 */
const PORTS = { from: 20_000, to: 32_000 };
const ATTEMPTS = 5;

/** Raised when there is no redis-server to run: trying another port would not help. */
class NotInstalled extends Error {}

export class RedisDeployment {
  private constructor(
    readonly target: RedisTarget,
    private readonly servers: readonly ChildProcess[],
  ) {}

  /** Starts the redis-server processes of `topology` and resolves once they accept connections. */
  static async start(topology: RedisTopology): Promise<RedisDeployment> {
    switch (topology) {
      case 'single': {
        const { child, port } = await startServer();
        return new RedisDeployment({ topology, ports: [port] }, [child]);
      }
    }
  }

  /** CPU time of its redis-server processes so far, microseconds, from /proc (NaN without /proc). */
  cpuUs(): number {
    return this.servers.reduce((sum, child) => sum + ((child.pid === undefined ? null : procThreadsCpuUs(child.pid)) ?? Number.NaN), 0);
  }

  async stop(): Promise<void> {
    for (const child of this.servers) child.kill('SIGKILL');
    await Promise.all(this.servers.map((child) => reap(child)));
  }
}

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = randomInt(PORTS.from, PORTS.to);
    const child = spawnProgram('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()]);
    try {
      await ready(child);
      return { child, port };
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt === ATTEMPTS || error instanceof NotInstalled) throw error;
    }
  }
}

/** Resolves once `child` printed that it accepts connections; its output is drained from then on. */
function ready(child: ChildProcess): Promise<void> {
  const stdout = child.stdout!;
  let output = '';
  return new Promise<void>((resolve, reject) => {
    const done = (error: Error | null): void => {
      clearTimeout(timer);
      stdout.off('data', onData);
      child.off('error', onError);
      child.off('exit', onExit);
      stdout.resume();
      if (error === null) resolve();
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(READY)) done(null);
    };
    const onError = (error: NodeJS.ErrnoException): void =>
      done(error.code === 'ENOENT' ? new NotInstalled('redis-server is not installed (Debian: apt-get install -y redis-server)') : error);
    const onExit = (code: number | null): void => done(new Error(`redis-server exited with ${String(code)}: ${output.trim().slice(-300)}`));
    const timer = setTimeout(() => done(new Error(`redis-server was not ready within ${READY_MS} ms`)), READY_MS);
    stdout.on('data', onData);
    child.once('error', onError);
    child.once('exit', onExit);
  });
}
