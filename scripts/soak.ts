/**
 * The fault soak: runs each fault scenario of test/faults/ several times in a row (10 unless told),
 * each scenario in a mocha of its own, and prints per scenario how many runs passed and, over all
 * its runs, the messages acknowledged, lost, duplicated and out of order, and the longest wait for
 * an answer. Not part of `npm test`.
 *
 *   npm run soak                          every scenario, 10 runs each
 *   npm run soak -- --runs 3 partition    3 runs of test/faults/partition.test.ts
 *
 * Each run appends its figures as a JSON line to a file named in ROOMS_FAULT_REPORT
 * (test/faults/harness/report.ts); ROOMS_FAULT_RUNS makes each scenario file repeat its test.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOCHA = join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
const SCENARIOS = ['redis-kill', 'redis-stop', 'node-kill', 'node-stop', 'partition', 'sentinel-failover'];

interface RunFigures {
  acked: number;
  local: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  gaps: number;
  maxWaitMs: number;
}

function parseArgs(argv: string[]): { runs: number; scenarios: string[] } {
  let runs = 10;
  const scenarios: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--runs') {
      runs = Number(argv[i + 1]);
      i += 1;
      if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a whole number from 1 (got ${argv[i]})`);
    } else if (SCENARIOS.includes(arg)) scenarios.push(arg);
    else throw new Error(`unknown argument ${arg}; scenarios: ${SCENARIOS.join(', ')}; option: --runs N`);
  }
  return { runs, scenarios: scenarios.length > 0 ? scenarios : SCENARIOS };
}

/** Runs one scenario file `runs` times in one mocha; resolves with mocha's exit code. */
function mocha(scenario: string, runs: number, report: string): Promise<number> {
  const args = [MOCHA, '--no-config', '--node-option', 'import=tsx', '--require', 'test/support/hooks.ts', '--timeout', '90000', '--reporter', 'spec', `test/faults/${scenario}.test.ts`];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ROOMS_FAULT_RUNS: String(runs), ROOMS_FAULT_REPORT: report } });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

function readReports(file: string): RunFigures[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as RunFigures);
}

async function main(): Promise<void> {
  const { runs, scenarios } = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'rooms-soak-'));
  const rows: string[][] = [];
  let failed = false;
  try {
    for (const scenario of scenarios) {
      const file = join(dir, `${scenario}.jsonl`);
      const code = await mocha(scenario, runs, file);
      const reports = readReports(file);
      const sum = (key: keyof RunFigures): number => reports.reduce((n, r) => n + r[key], 0);
      // mocha exits with the number of failed tests; a run that never got to its figures counts too.
      const failures = Math.max(code, runs - reports.length);
      const skipped = code === 0 && reports.length === 0;
      failed ||= code !== 0;
      rows.push([
        scenario,
        String(runs),
        skipped ? 'skipped' : String(runs - Math.min(failures, runs)),
        String(sum('acked')),
        String(sum('local')),
        String(sum('lost')),
        String(sum('duplicated')),
        String(sum('outOfOrder')),
        String(sum('gaps')),
        reports.length === 0 ? '-' : String(Math.max(...reports.map((r) => r.maxWaitMs))),
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const header = ['scenario', 'runs', 'passed', 'acked', 'local', 'lost', 'duplicated', 'out of order', 'gaps', 'max answer wait (ms)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\nsoak: ${runs} runs of each scenario\n`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  if (failed) process.exitCode = 1;
}

await main();
