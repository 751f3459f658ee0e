import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';

const BIN = fileURLToPath(new URL('../../bin/rooms', import.meta.url));

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns the real bin/rooms with a clean ROOMS_* environment; it is killed after the test if still
 * running. With `stdin: 'pipe'` the test writes the child's input (child.stdin) and ends it.
 */
export function spawnRooms(args: string[], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore'): { child: ChildProcess; done: Promise<Finished>; stdout: () => string; stderr: () => string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ROOMS_')));
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Finished>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await done;
    }
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Runs bin/rooms to its end. */
export function runRooms(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return spawnRooms(args, env).done;
}

/** Waits until the child's stdout (or stderr, where the banner goes) matches, resolving with the match. */
export function waitForOutput(child: ChildProcess, read: () => string, pattern: RegExp, from: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
  const stream = child[from]!;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = read().match(pattern);
      if (match !== null) {
        stream.off('data', check);
        child.off('close', onClose);
        resolve(match);
      }
    };
    const onClose = (): void => reject(new Error(`rooms exited before printing ${pattern}: ${read()}`));
    stream.on('data', check);
    child.on('close', onClose);
    check();
  });
}
