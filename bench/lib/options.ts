// Command-line options of bench/run.ts.
import { SERVER_NAMES, type ClientKind, type ServerName } from './api.js';
import { SCENARIO_IDS, type ScenarioId } from '../scenarios/measurement.js';

export interface Options {
  smoke: boolean;
  only: ScenarioId[];
  servers: ServerName[];
  runs: number;
  /** Directory for results.json. */
  out: string;
  kind: ClientKind;
  /** Regenerate docs/benchmarks.md and .svg (default: on for full runs, off for smoke). */
  docs: boolean;
  /** Receiving worker processes (besides the publisher's). */
  workers: number;
  /** A sentence for docs/benchmarks.md about this run, e.g. that the machine was shared; '' for none. */
  note: string;
  /** Directory for heap snapshots of the servers in (d), before and after the members connect; '' for none. */
  heapSnapshots: string;
  /** Directory for CPU profiles of the servers over the windows of (a) and (g); '' for none. */
  cpuProfiles: string;
}

export const USAGE = `usage: npx tsx bench/run.ts [--smoke] [--only ${SCENARIO_IDS.join(',')}] [--servers ${SERVER_NAMES.join(',')}]
                          [--runs N] [--out DIR] [--client minimal|ws] [--docs | --no-docs] [--workers N] [--note TEXT]
                          [--heap-snapshots DIR] [--cpu-profiles DIR]`;

export class UsageError extends Error {}

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new UsageError(`unknown ${what} "${item}" (one of ${allowed.join(', ')})`);
  if (items.length === 0) throw new UsageError(`--${what}s needs at least one value`);
  return allowed.filter((item) => items.includes(item));
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer (got "${value}")`);
  return n;
}

export function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    smoke: false,
    only: [...SCENARIO_IDS],
    servers: [...SERVER_NAMES],
    runs: 3,
    out: '',
    kind: 'minimal',
    docs: false,
    workers: 2,
    note: '',
    heapSnapshots: '',
    cpuProfiles: '',
  };
  let runs: number | null = null;
  let docs: boolean | null = null;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--smoke': options.smoke = true; break;
      case '--only': options.only = list(value(), SCENARIO_IDS, 'scenario'); break;
      case '--servers': options.servers = list(value(), SERVER_NAMES, 'server'); break;
      case '--runs': runs = positive(value(), flag); break;
      case '--out': options.out = value(); break;
      case '--client': {
        const kind = value();
        if (kind !== 'minimal' && kind !== 'ws') throw new UsageError(`--client is minimal or ws (got "${kind}")`);
        options.kind = kind;
        break;
      }
      case '--docs': docs = true; break;
      case '--no-docs': docs = false; break;
      case '--workers': options.workers = positive(value(), flag); break;
      case '--note': options.note = value(); break;
      case '--heap-snapshots': options.heapSnapshots = value(); break;
      case '--cpu-profiles': options.cpuProfiles = value(); break;
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  options.runs = runs ?? (options.smoke ? 1 : 3);
  options.docs = docs ?? !options.smoke;
  if (options.out === '') options.out = options.smoke ? 'bench/results/tmp' : 'bench/results';
  return options;
}
