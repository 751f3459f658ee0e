// Spawns the harness's child processes (servers, client workers, redis-server) and makes sure none outlives run.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** Where the harness's own files are: the repository, or the JavaScript they were compiled to. */
const SCRIPTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Compiled to JavaScript (test/bench.test.ts does, for its smoke run), the harness runs its
 * children with plain node, from the repository it was started in: tsx costs a child about 0.4 s
 * to start, which was a quarter of a smoke run.
 */
const COMPILED = import.meta.url.endsWith('.js');
/** The repository root: children run with it as cwd so `--import tsx` resolves. */
export const ROOT = COMPILED ? process.cwd() : SCRIPTS;

const live = new Set<ChildProcess>();

/** Extra node flags for every child, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile. */
const EXTRA = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

export function spawnTs(file: string, args: readonly string[] = []): ChildProcess {
  return track(
    spawn(process.execPath, [...EXTRA, '--expose-gc', ...(COMPILED ? [resolve(SCRIPTS, file.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', resolve(ROOT, file)]), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    }),
  );
}

/**
 * The bun binary of the `bun` devDependency: its postinstall puts the native executable in place
 * of this placeholder (so installs with --ignore-scripts leave no runnable Bun).
 */
export const BUN = resolve(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe');

/**
 * Runs a TypeScript file with the bun binary itself (no wrapper, so the child's pid is Bun's own
 * for /proc). Bun speaks Node's IPC only with JSON serialization. BENCH_NODE_ARGS does not apply.
 */
export function spawnBun(file: string, args: readonly string[] = []): ChildProcess {
  return track(
    spawn(BUN, [resolve(ROOT, file), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    }),
  );
}

/** Runs a program of this machine (redis-server), with stdout piped so the caller can see it is ready. */
export function spawnProgram(command: string, args: readonly string[]): ChildProcess {
  return track(spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
}

/** Resolves when the child has exited; SIGKILLs it if it has not exited after `graceMs`. */
export function reap(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

process.on('exit', killAll);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(code);
  });
}
