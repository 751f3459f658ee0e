// A child's CPU time and peak RSS read from /proc by the parent: unlike an IPC request, it is not
// delayed while the child's event loop is busy (a server fanning out a burst can block for seconds).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of process `pid` in microseconds (10 ms resolution), or null without /proc. */
export function procCpuUs(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after "pid (comm)": state is field 3, utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1_000_000) / clockTicks() : null;
}

/**
 * CPU time of every thread of process `pid` in microseconds, from each one's schedstat (in ns,
 * where stat counts 10 ms ticks): fine enough for a process that works little per second, as
 * Redis does at a low publish rate. Null without /proc.
 */
export function procThreadsCpuUs(pid: number): number | null {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
  return Number.isFinite(ns) ? ns / 1000 : null;
}

/** The peak resident set size of process `pid` (VmHWM) since it started or since resetPeakRss, bytes; null without /proc. */
export function procPeakRss(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kB = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kB === undefined ? null : Number(kB) * 1024;
}

/** Resets the peak procPeakRss reads to the process's current RSS (Linux 4.0 and later); false where that cannot be done. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
