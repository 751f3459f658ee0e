import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { spawnRooms, waitForOutput } from './cli.js';

/** A rooms node: the real bin/rooms in a child process of its own, so a test can kill it. */
export interface RoomsNode {
  port: number;
  child: ChildProcess;
  /** What it logged so far. */
  output: () => string;
  url: (id: string) => string;
  http: (path: string) => string;
  /** SIGKILL: the node dies without closing anything. */
  kill: () => Promise<void>;
}

/** Starts a node on a free port sharing `redis`; it is killed after the test if still running. */
export async function startNode(redis: string, args: string[] = [], env: Record<string, string> = {}): Promise<RoomsNode> {
  const { child, stdout } = spawnRooms(['--port', '0', '--redis', redis, '--message-rate', '0', '--log-level', 'info', ...args], env);
  const match = await waitForOutput(child, stdout, /"port":(\d+)[^\n]*"msg":"listening"/);
  const port = Number(match[1]);
  return {
    port,
    child,
    output: stdout,
    url: (id) => `ws://127.0.0.1:${port}/channel?id=${id}`,
    http: (path) => `http://127.0.0.1:${port}${path}`,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts `n` nodes sharing `redis`. */
export function startNodes(redis: string, n: number, args: string[] = [], env: Record<string, string> = {}): Promise<RoomsNode[]> {
  return Promise.all(Array.from({ length: n }, () => startNode(redis, args, env)));
}
