// A description of the machine and the code measured, for the report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { BUN, ROOT } from './children.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** The soft limit on open files per process. */
  openFiles: string;
  /** `git describe` of the measured tree ("-dirty" when it has uncommitted changes). */
  commit: string;
  /** The version of the bun binary the Bun peer runs on, or 'not installed'. */
  bun: string;
}

function openFilesLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return line?.split(/\s{2,}/)[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function bunVersion(): string {
  try {
    return execFileSync(BUN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
    openFiles: openFilesLimit(),
    commit: commit(),
    bun: bunVersion(),
  };
}
