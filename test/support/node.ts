import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { spawnRooms, waitForOutput } from './cli.js';

const BIN = fileURLToPath(new URL('../../bin/rooms', import.meta.url));

/** A rooms node: the real bin/rooms in a child process of its own, so a test can kill it. */
export interface RoomsNode {
  port: number;
  /** The address it listens on. */
  host: string;
  child: ChildProcess;
  /** What it logged so far. */
  output: () => string;
  url: (id: string) => string;
  http: (path: string) => string;
  /** SIGKILL: the node dies without closing anything. */
  kill: () => Promise<void>;
  /** SIGSTOP: the node hangs, its sockets open, answering nothing (resolves once it is stopped). */
  pause: () => Promise<void>;
  /** SIGCONT after {@link pause}. */
  resume: () => Promise<void>;
}

/** Where a node runs: inside a network namespace, listening on one of the namespace's addresses. */
export interface Placement {
  netns: string;
  host: string;
}

/**
 * Starts a node on a free port sharing `redis`; it is killed after the test if still running. With
 * `placement` it runs as `ip netns exec NS node bin/rooms ...` and listens on `placement.host`
 * (`ip netns exec` execs the command, so the child's pid is the node's).
 */
export async function startNode(redis: string, args: string[] = [], env: Record<string, string> = {}, placement?: Placement): Promise<RoomsNode> {
  const all = ['--port', '0', '--redis', redis, '--message-rate', '0', '--log-level', 'info', ...(placement === undefined ? [] : ['--host', placement.host]), ...args];
  const { child, stdout } = placement === undefined ? spawnRooms(all, env) : spawnInNamespace(placement.netns, all, env);
  const match = await waitForOutput(child, stdout, /"port":(\d+)[^\n]*"msg":"listening"/);
  const port = Number(match[1]);
  const host = placement?.host ?? '127.0.0.1';
  return {
    port,
    host,
    child,
    output: stdout,
    url: (id) => `ws://${host}:${port}/channel?id=${id}`,
    http: (path) => `http://${host}:${port}${path}`,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    pause: () => suspendProcess(child),
    resume: () => resumeProcess(child),
  };
}

/** Starts `n` nodes sharing `redis`. */
export function startNodes(redis: string, n: number, args: string[] = [], env: Record<string, string> = {}): Promise<RoomsNode[]> {
  return Promise.all(Array.from({ length: n }, () => startNode(redis, args, env)));
}

/** bin/rooms inside a network namespace, with a clean ROOMS_* environment; killed after the test if still running. */
function spawnInNamespace(netns: string, args: string[], env: Record<string, string>): { child: ChildProcess; stdout: () => string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ROOMS_')));
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, BIN, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.resume();
  const closed = once(child, 'close');
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await closed;
    }
  });
  return { child, stdout: () => stdout };
}

/** SIGSTOP, resolving once the kernel reports the process stopped (state T in /proc/PID/stat). */
export async function suspendProcess(child: ChildProcess): Promise<void> {
  child.kill('SIGSTOP');
  while ((await processState(child)) !== 'T') await new Promise((resolve) => setImmediate(resolve));
}

/** SIGCONT, resolving once the process runs again. */
export async function resumeProcess(child: ChildProcess): Promise<void> {
  child.kill('SIGCONT');
  while ((await processState(child)) === 'T') await new Promise((resolve) => setImmediate(resolve));
}

/** The one-letter state in /proc/PID/stat (after the parenthesised command name). */
async function processState(child: ChildProcess): Promise<string> {
  if (child.pid === undefined) throw new Error('the process never started');
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}
