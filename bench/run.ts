// The benchmark: `npx tsx bench/run.ts [--smoke] ...` (see bench/lib/options.ts). Runs every
// measurement against every server, prints the table, writes results.json and, for full runs,
// docs/benchmarks.md and docs/benchmarks.svg. Exits non-zero if a run lost or duplicated messages
// or a server failed to start. It asserts no timings.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chartSvg } from './chart.js';
import type { ServerName } from './lib/api.js';
import { ROOT } from './lib/children.js';
import { describeMachine } from './lib/machine.js';
import { parseOptions, UsageError, USAGE, type Options } from './lib/options.js';
import { FULL, SMOKE } from './lib/sizes.js';
import { markdownReport, textReport } from './report.js';
import { summarize, type Results, type RunRecord } from './results.js';
import type { Context, Outcome } from './scenarios/common.js';
import { Fleet, ServerStartError } from './scenarios/fleet.js';
import { measurements } from './scenarios/index.js';
import type { Measurement } from './scenarios/measurement.js';
import { formatValue } from './report.js';

/** Runs `run` on what was started, into `record`; stops it and resets the workers afterwards. */
async function measureOn<H extends { stop(): Promise<void> }>(record: RunRecord, ctx: Context, handle: H, run: (handle: H) => Promise<Outcome>): Promise<void> {
  try {
    const outcome = await run(handle);
    Object.assign(record, outcome);
  } catch (error) {
    record.problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    await handle.stop();
    await ctx.fleet.resetWorkers().catch((error: unknown) => record.problems.push(`reset failed: ${String(error)}`));
  }
}

async function measureOnce(measurement: Measurement, server: ServerName, run: number, ctx: Context): Promise<RunRecord> {
  const started = performance.now();
  const record: RunRecord = { measurement: measurement.key, scenario: measurement.scenario, server, run, seconds: 0, values: {}, info: {}, problems: [] };
  if (measurement.nodes === undefined) {
    await measureOn(record, ctx, await ctx.fleet.startServer(server, measurement.settings), (handle) => measurement.run(handle, ctx));
  } else {
    const { count, redis } = measurement.nodes;
    await measureOn(record, ctx, await ctx.fleet.startNodes(server, redis, count, measurement.settings), (nodes) => measurement.run(nodes, ctx));
  }
  record.seconds = (performance.now() - started) / 1000;
  return record;
}

function progressLine(measurement: Measurement, record: RunRecord, runs: number): string {
  const figures = measurement.figures
    .map((figure) => `${formatValue(record.values[figure.metric])} ${figure.unit}`)
    .join(', ');
  const problems = record.problems.length > 0 ? `  FAILED: ${record.problems.join('; ')}` : '';
  return `[${measurement.key}] ${record.server} run ${record.run}/${runs}: ${figures} (${record.seconds.toFixed(1)} s)${problems}`;
}

async function benchmark(options: Options): Promise<{ results: Results; aborted: string | null }> {
  const sizes = options.smoke ? SMOKE : FULL;
  const list = measurements(sizes, options.only);
  const fleet = new Fleet(options.workers);
  const dir = (path: string): string => {
    if (path === '') return '';
    mkdirSync(resolve(ROOT, path), { recursive: true });
    return resolve(ROOT, path);
  };
  const ctx: Context = { fleet, sizes, kind: options.kind, heapSnapshots: dir(options.heapSnapshots), cpuProfiles: dir(options.cpuProfiles) };
  const runs: RunRecord[] = [];
  let aborted: string | null = null;
  try {
    for (const measurement of list) {
      for (let run = 1; run <= options.runs; run++) {
        for (const server of options.servers) {
          if (measurement.servers !== undefined && !measurement.servers.includes(server)) continue;
          const record = await measureOnce(measurement, server, run, ctx);
          runs.push(record);
          process.stderr.write(`${progressLine(measurement, record, options.runs)}\n`);
        }
      }
    }
  } catch (error) {
    if (!(error instanceof ServerStartError)) throw error;
    aborted = error.message;
  } finally {
    await fleet.close();
  }
  const results: Results = {
    createdAt: new Date().toISOString(),
    machine: describeMachine(),
    options,
    sizes,
    servers: options.servers,
    measurements: list.map(({ key, scenario, title, method, nodes }) => ({ key, scenario, title, method, ...(nodes === undefined ? {} : { nodes }) })),
    figures: summarize(list, options.servers, runs),
    runs,
  };
  return { results, aborted };
}

function write(file: string, text: string): void {
  mkdirSync(resolve(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }
  const started = performance.now();
  const { results, aborted } = await benchmark(options);
  if (aborted !== null) {
    process.stderr.write(`bench: ${aborted}\n`);
    return 1;
  }
  process.stdout.write(`${textReport(results)}\n`);
  const json = resolve(ROOT, options.out, 'results.json');
  write(json, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`wrote ${json}\n`);
  if (options.docs) {
    write(resolve(ROOT, 'docs/benchmarks.svg'), chartSvg(results));
    const notes = resolve(ROOT, 'bench/profile-notes.md');
    const profile = existsSync(notes) ? readFileSync(notes, 'utf8') : null;
    write(resolve(ROOT, 'docs/benchmarks.md'), markdownReport(results, 'benchmarks.svg', profile));
    process.stderr.write('wrote docs/benchmarks.md and docs/benchmarks.svg\n');
  }
  process.stderr.write(`took ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  const failed = results.runs.filter((run) => run.problems.length > 0);
  if (failed.length > 0) {
    const first = failed[0];
    process.stderr.write(
      `bench: ${failed.length} run${failed.length === 1 ? '' : 's'} failed, first: ${first.measurement} ${first.server} run ${first.run}: ${first.problems.join('; ')}\n`,
    );
    return 1;
  }
  return 0;
}

process.exit(await main());
