import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { onCleanup } from './cleanup.js';
import { resumeProcess, suspendProcess } from './node.js';

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

export interface RedisServerOptions {
  /**
   * Addresses to listen on besides 127.0.0.1, such as the host end of a veth pair that a node in a
   * network namespace reaches Redis by. Redis then runs with `--protected-mode no`, which it needs
   * to accept connections on a non-loopback address without a password.
   */
  alsoBind?: string[];
  /**
   * A folder of the test's own where a SAVE writes its snapshot and a restart loads it, as a Redis
   * that restarts from an older RDB file does. Without it nothing is kept.
   */
  dir?: string;
}

/** A real redis-server process of the test's own, on a free port, keeping nothing on disk. */
export class RedisServer {
  private child: ChildProcess | null = null;

  private constructor(
    public port: number,
    private readonly alsoBind: string[],
    private readonly dir: string | undefined,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The URL on one of the addresses it listens on (127.0.0.1 or one of `alsoBind`). */
  urlAt(host: string): string {
    return `redis://${host}:${this.port}`;
  }

  /** Starts a redis-server on a free port; it is stopped after the test. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options.alsoBind ?? [], options.dir);
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

  /** Starts it again on the same port: empty, as a Redis that restarts without persistence does, or from the last SAVE in `dir`. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is already running');
    const bind = ['--bind', '127.0.0.1', ...this.alsoBind, ...(this.alsoBind.length > 0 ? ['--protected-mode', 'no'] : [])];
    const dir = this.dir === undefined ? [] : ['--dir', this.dir];
    const child = spawn('redis-server', ['--port', String(this.port), ...bind, ...dir, '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout.off('data', onData);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) => {
        this.child = null;
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    });
    child.stdout.resume();
    child.stderr.resume();
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

  /**
   * SIGSTOP: Redis hangs with every connection open, answering nothing, as a Redis that is stuck
   * (or a link that went silent) does. Resolves once the kernel reports it stopped.
   */
  pause(): Promise<void> {
    return suspendProcess(this.running());
  }

  /** SIGCONT after {@link pause}: it answers again, on the same connections, with its data. */
  resume(): Promise<void> {
    return resumeProcess(this.running());
  }

  private running(): ChildProcess {
    if (this.child === null) throw new Error('redis-server is not running');
    return this.child;
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
