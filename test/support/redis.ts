import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { onCleanup } from './cleanup.js';

const INSTALL = 'redis-server is not installed: apt-get install -y redis-server (CI sets ROOMS_REQUIRE_REDIS=1 and installs it)';

/** Whether redis-server can be run here. */
export const redisAvailable = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Skips the calling suite when redis-server is missing, saying how to install it; fails instead
 * under ROOMS_REQUIRE_REDIS=1, so CI can never skip these tests.
 */
export function needRedis(ctx: Mocha.Context): void {
  if (redisAvailable) return;
  if (process.env.ROOMS_REQUIRE_REDIS === '1') throw new Error(INSTALL);
  console.log(`      skipped: ${INSTALL}`);
  ctx.skip();
}

/** A real redis-server process of the test's own, on a free port, keeping nothing on disk. */
export class RedisServer {
  private child: ChildProcess | null = null;

  private constructor(public port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a redis-server on a free port; it is stopped after the test. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    onCleanup(() => server.stop());
    // Between finding a free port and binding it, another socket may take it: try another one.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await server.restart();
        return server;
      } catch (err) {
        if (attempt === 5 || !String(err).includes('Address already in use')) throw err;
        server.port = await freePort();
      }
    }
  }

  /** Starts it again on the same port, empty, as a Redis that restarts without persistence does. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is already running');
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout!.off('data', onData);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => {
        this.child = null;
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
  }

  /** Kills it at once (SIGKILL): clients see their connections drop. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
